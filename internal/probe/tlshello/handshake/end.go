package handshake

import (
	"crypto/hmac"
	"io"
	"net"
)

// Ending is how End leaves a handshake the server is waiting on.
type Ending uint8

const (
	// FatalAlert: a fatal alert, as check_ssl_hello did before: under
	// TLS <= 1.2 handshake_failure in the clear, under 1.3 bad_certificate
	// encrypted with the client handshake key.
	FatalAlert Ending = iota + 1
	// CloseNotify: a close_notify alert (encrypted under 1.3).
	CloseNotify
	// UserCanceled: user_canceled, then close_notify (encrypted under 1.3).
	UserCanceled
	// Finish: TLS 1.3 only: an empty Certificate if one was requested,
	// our Finished, then close_notify under the application keys: the
	// handshake completes and the server's application sees a
	// connection.
	Finish
	// TCPClose: no alert, the connection closed (FIN).
	TCPClose
	// TCPReset: no alert, the connection reset (RST).
	TCPReset
	// PlainCloseNotify: TLS 1.3 only: a close_notify in the clear, where
	// the server expects protected records.
	PlainCloseNotify
)

// EndingName names an ending for the trace and the measurements.
func EndingName(e Ending) string {
	switch e {
	case FatalAlert:
		return "fatal-alert"
	case CloseNotify:
		return "close-notify"
	case UserCanceled:
		return "user-canceled"
	case Finish:
		return "finish"
	case TCPClose:
		return "tcp-close"
	case TCPReset:
		return "tcp-reset"
	case PlainCloseNotify:
		return "plain-close-notify"
	}
	return "unknown"
}

// Alerts (RFC 8446 6).
const (
	alertCloseNotify       = 0
	alertHandshakeFailure  = 40
	alertBadCertificate    = 42
	alertUserCanceled      = 90
	alertLevelWarning      = 1
	alertLevelFatal        = 2
	closeNotifyDescription = "alert close_notify (0)"
)

// End leaves the handshake after Hello read the server's whole flight,
// and says what it sent, for the trace. The caller then closes conn.
// Which ending a server logs least is measured, server by server, by
// internal/lab/endings (the figures are in the README, check_ssl_hello).
func (c *Client) End(conn net.Conn, e Ending) (string, error) {
	tls13 := c.res.Version >= 0x0304 && c.out != nil
	switch e {
	case FatalAlert:
		if tls13 {
			return "alert bad_certificate (42), encrypted", c.alerts(conn, alertLevelFatal, alertBadCertificate)
		}
		return "alert handshake_failure (40), in the clear", c.alerts(conn, alertLevelFatal, alertHandshakeFailure)
	case CloseNotify:
		return closeNotifyDescription + c.how(tls13), c.alerts(conn, alertLevelWarning, alertCloseNotify)
	case UserCanceled:
		return "alert user_canceled (90) and close_notify (0)" + c.how(tls13),
			c.alerts(conn, alertLevelWarning, alertUserCanceled, alertLevelWarning, alertCloseNotify)
	case Finish:
		if !tls13 {
			return "", nil
		}
		return "Finished, then alert close_notify (0) under the application keys", c.finish(conn)
	case TCPClose:
		return "nothing: TCP close", nil
	case TCPReset:
		if tc, ok := conn.(*net.TCPConn); ok {
			return "nothing: TCP reset", tc.SetLinger(0)
		}
		return "nothing: TCP close (not a TCP connection)", nil
	case PlainCloseNotify:
		return closeNotifyDescription + ", in the clear", c.send(conn, recordAlert, 0x0303, []byte{alertLevelWarning, alertCloseNotify})
	}
	return "", nil
}

func (c *Client) how(tls13 bool) string {
	if tls13 {
		return ", encrypted"
	}
	return ", in the clear"
}

// alerts sends level/description pairs in one write: under TLS 1.3
// protected with the client handshake key, else in the clear.
func (c *Client) alerts(w io.Writer, pairs ...uint8) error {
	var out []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		body := []byte{pairs[i], pairs[i+1]}
		if c.res.Version >= 0x0304 && c.out != nil {
			out = append(out, c.out.seal(recordAlert, body)...)
			continue
		}
		v := c.res.Version
		if v == 0 {
			v = 0x0301
		}
		out = append(out, recordAlert, byte(v>>8), byte(v), 0, 2)
		out = append(out, body...)
	}
	c.trace(3, "> %d bytes", len(out))
	_, err := w.Write(out)
	return err
}

// finish completes a TLS 1.3 handshake: an empty Certificate when the
// server asked for one, our Finished, and a close_notify under the
// client application traffic key, in one write.
func (c *Client) finish(w io.Writer) error {
	s := c.suite13
	serverDone := c.transcript.Sum(nil) // through the server's Finished
	var out []byte
	if c.res.CertRequested {
		var b builder
		b.u8(msgCertificate)
		at := b.open(3)
		b.vec8(c.crContext)
		b.raw(0, 0, 0) // no certificates
		b.close24(at)
		c.transcript.Write(b.b)
		out = append(out, c.out.seal(recordHandshake, b.b)...)
	}
	mac := hmac.New(s.hash, s.expandLabel(c.clientHS, "finished", nil, s.size))
	mac.Write(c.transcript.Sum(nil))
	fin := append([]byte{msgFinished, 0, 0, byte(s.size)}, mac.Sum(nil)...)
	out = append(out, c.out.seal(recordHandshake, fin)...)
	master := s.extract(nil, s.deriveSecret(c.handshakeKey, "derived", s.emptyHash()))
	app, err := s.trafficKeys(s.deriveSecret(master, "c ap traffic", serverDone))
	if err != nil {
		return err
	}
	out = append(out, app.seal(recordAlert, []byte{alertLevelWarning, alertCloseNotify})...)
	c.trace(3, "> %d bytes", len(out))
	_, err = w.Write(out)
	return err
}
