package tlshello

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Record layer and handshake constants (RFC 5246, RFC 8446).
const (
	recordHeaderLen = 5
	// maxRecordLen is the largest TLSCiphertext fragment any version
	// allows (2^14 + 2048); a longer one is a broken or hostile peer.
	maxRecordLen = 1<<14 + 2048
	// maxHelloLen bounds the one handshake message this reader keeps,
	// the ServerHello; a real one is a few hundred bytes.
	maxHelloLen = 1 << 12
	// maxFirst is how many of the first bytes are kept to quote; more
	// than are shown, so that a quote can say it was cut.
	maxFirst = 40
	// maxSeen bounds the list of message types kept for the trace.
	maxSeen = 16

	recordCCS       = 20
	recordAlert     = 21
	recordHandshake = 22
	recordAppData   = 23

	msgServerHello        = 2
	msgCertificate        = 11
	msgServerKeyExchange  = 12
	msgCertificateRequest = 13
	msgServerHelloDone    = 14

	extSupportedVersions = 43
)

// helloRetryRandom is the ServerHello.random that marks a HelloRetryRequest
// (RFC 8446 4.1.3: SHA-256 of "HelloRetryRequest").
var helloRetryRandom = []byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// Errors the reader finds in what the server sent.
var (
	errNotTLS        = errors.New("not TLS")
	errRecordTooLong = errors.New("record longer than TLS allows")
	errBadRecord     = errors.New("malformed TLS record")
	errBadHandshake  = errors.New("malformed TLS handshake message")
	errServerAlert   = errors.New("TLS alert from the server")
)

// flight reads the server's side of a handshake as it arrives, in any
// chunks, without keeping more than a record header, the ServerHello and a
// few bytes to quote: what the server chose, which messages it sent in the
// clear, an alert, or why the bytes are not TLS. Everything it reads is
// passed on unchanged to crypto/tls, which does the real work.
type flight struct {
	first    []byte // the first bytes, to quote when they are not TLS
	total    int64  // bytes read
	records  int    // record headers read
	err      error  // the first fault found; feed returns it from then on
	faultMsg string // what exactly was wrong, for the summary

	version   uint16  // chosen by the ServerHello (supported_versions wins)
	cipher    uint16  // chosen by the ServerHello
	hello     bool    // a ServerHello (not a HelloRetryRequest) was read
	retry     bool    // a HelloRetryRequest came first
	certReq   bool    // a CertificateRequest was read in the clear (TLS <= 1.2)
	done      bool    // ServerHelloDone was read: the server's flight is complete
	encrypted bool    // later records are protected: their content is not read
	alert     []byte  // level and description of a server alert
	seen      []uint8 // handshake message types in the clear, in order (bounded)

	hdr  [recordHeaderLen]byte
	hn   int   // bytes of hdr filled
	left int   // bytes of the current record's body still to come
	typ  uint8 // the current record's content type
	// Handshake messages may span records and records may hold several
	// messages: this is the current message's state.
	mhdr  [4]byte
	mn    int
	mleft int    // body bytes of the current message still to come
	body  []byte // the current message's body, kept for a ServerHello only
	abuf  []byte // a partial alert
}

// feed reads the next bytes the server sent.
func (f *flight) feed(b []byte) error {
	if f.err != nil {
		return f.err
	}
	if len(f.first) < maxFirst {
		f.first = append(f.first, b[:min(len(b), maxFirst-len(f.first))]...)
	}
	f.total += int64(len(b))
	for len(b) > 0 {
		if f.left == 0 {
			n := copy(f.hdr[f.hn:], b)
			f.hn += n
			b = b[n:]
			if f.hn < recordHeaderLen {
				break
			}
			f.hn = 0
			if err := f.header(); err != nil {
				return err
			}
			continue
		}
		n := min(len(b), f.left)
		if err := f.content(b[:n]); err != nil {
			return err
		}
		f.left -= n
		b = b[n:]
		if f.left == 0 {
			if err := f.endRecord(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *flight) fail(err error, format string, a ...any) error {
	f.err = err
	f.faultMsg = fmt.Sprintf(format, a...)
	return err
}

// header checks a record header. The first record decides whether this is
// TLS at all: a handshake or an alert, record version 3.x.
func (f *flight) header() error {
	typ, major := f.hdr[0], f.hdr[1]
	length := int(binary.BigEndian.Uint16(f.hdr[3:]))
	f.records++
	if f.records == 1 && (typ != recordHandshake && typ != recordAlert || major != 3) {
		return f.fail(errNotTLS, "not TLS")
	}
	if typ < recordCCS || typ > recordAppData || major != 3 {
		return f.fail(errBadRecord, "malformed TLS record (type %d, version %d.%d)", typ, major, f.hdr[2])
	}
	if length > maxRecordLen {
		return f.fail(errRecordTooLong, "TLS record of %d bytes, more than the %d TLS allows", length, maxRecordLen)
	}
	if length == 0 && typ != recordAppData {
		return f.fail(errBadRecord, "empty TLS record (type %d)", typ)
	}
	if typ == recordHandshake && f.encrypted {
		return f.fail(errBadRecord, "handshake record in the clear after the keys changed")
	}
	f.typ, f.left = typ, length
	if f.left == 0 {
		return f.endRecord()
	}
	return nil
}

// content reads part of a record's body.
func (f *flight) content(b []byte) error {
	switch {
	case f.typ == recordAlert && !f.encrypted:
		f.abuf = append(f.abuf, b[:min(len(b), 2-len(f.abuf))]...)
	case f.typ == recordHandshake:
		return f.handshake(b)
	}
	return nil
}

func (f *flight) endRecord() error {
	if f.typ == recordAlert && !f.encrypted {
		if len(f.abuf) < 2 {
			return f.fail(errBadRecord, "TLS alert record too short")
		}
		f.alert = f.abuf[:2]
		return f.fail(errServerAlert, "TLS alert %s", alertText(f.alert[0], f.alert[1]))
	}
	if f.typ == recordCCS && f.hello && f.version <= 0x0303 {
		// TLS <= 1.2: whatever follows the server's ChangeCipherSpec is
		// protected. (Under 1.3 the CCS is a compatibility no-op.)
		f.encrypted = true
	}
	return nil
}

// handshake reads handshake message bytes in the clear.
func (f *flight) handshake(b []byte) error {
	for len(b) > 0 {
		if f.mleft == 0 && f.mn < 4 {
			n := copy(f.mhdr[f.mn:], b)
			f.mn += n
			b = b[n:]
			if f.mn < 4 {
				return nil
			}
			f.mleft = int(f.mhdr[1])<<16 | int(f.mhdr[2])<<8 | int(f.mhdr[3])
			if f.mhdr[0] == msgServerHello && f.mleft > maxHelloLen {
				return f.fail(errBadHandshake, "ServerHello of %d bytes", f.mleft)
			}
			f.body = f.body[:0]
			if f.mleft == 0 {
				if err := f.message(); err != nil {
					return err
				}
			}
			continue
		}
		n := min(len(b), f.mleft)
		if f.mhdr[0] == msgServerHello {
			f.body = append(f.body, b[:n]...)
		}
		f.mleft -= n
		b = b[n:]
		if f.mleft == 0 {
			if err := f.message(); err != nil {
				return err
			}
		}
	}
	return nil
}

// message handles one complete handshake message.
func (f *flight) message() error {
	typ := f.mhdr[0]
	f.mn = 0
	if len(f.seen) < maxSeen {
		f.seen = append(f.seen, typ)
	}
	if !f.hello && typ != msgServerHello {
		return f.fail(errBadHandshake, "%s before the ServerHello", messageName(typ))
	}
	switch typ {
	case msgServerHello:
		if f.hello {
			return f.fail(errBadHandshake, "a second ServerHello")
		}
		return f.serverHello(f.body)
	case msgCertificateRequest:
		f.certReq = true
	case msgServerHelloDone:
		f.done = true
	}
	return nil
}

// serverHello reads the version and cipher suite the server chose, and
// whether it is a HelloRetryRequest.
func (f *flight) serverHello(b []byte) error {
	bad := func(what string) error { return f.fail(errBadHandshake, "malformed ServerHello (%s)", what) }
	if len(b) < 2+32+1 {
		return bad("short")
	}
	version := binary.BigEndian.Uint16(b)
	random := b[2:34]
	sidLen := int(b[34])
	b = b[35:]
	if sidLen > 32 || len(b) < sidLen+3 {
		return bad("session id")
	}
	b = b[sidLen:]
	cipher := binary.BigEndian.Uint16(b)
	b = b[3:] // cipher suite, compression method
	if len(b) > 0 {
		if len(b) < 2 || int(binary.BigEndian.Uint16(b)) != len(b)-2 {
			return bad("extensions length")
		}
		for b = b[2:]; len(b) > 0; {
			if len(b) < 4 {
				return bad("extension header")
			}
			typ, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
			if len(b) < 4+n {
				return bad("extension length")
			}
			if typ == extSupportedVersions {
				if n != 2 {
					return bad("supported_versions")
				}
				version = binary.BigEndian.Uint16(b[4:])
			}
			b = b[4+n:]
		}
	}
	f.version, f.cipher = version, cipher
	if bytes.Equal(random, helloRetryRandom) {
		// The server wants another ClientHello; its real ServerHello
		// follows in the clear. Forget the HRR as a hello.
		if f.retry {
			return f.fail(errBadHandshake, "a second HelloRetryRequest")
		}
		f.retry = true
		if len(f.seen) > 0 {
			f.seen[len(f.seen)-1] = 0xff
		}
		return nil
	}
	f.hello = true
	if version >= 0x0304 {
		f.encrypted = true
	}
	return nil
}

// flightText lists the handshake messages read in the clear: "ServerHello,
// Certificate, ServerHelloDone".
func (f *flight) flightText() string {
	if len(f.seen) == 0 {
		return "nothing"
	}
	var b []byte
	for i, t := range f.seen {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, messageName(t)...)
	}
	return string(b)
}

// partial says whether the server stopped in the middle of a record.
func (f *flight) partial() bool { return f.hn > 0 || f.left > 0 }

func messageName(t uint8) string {
	switch t {
	case 0:
		return "HelloRequest"
	case msgServerHello:
		return "ServerHello"
	case 4:
		return "NewSessionTicket"
	case 8:
		return "EncryptedExtensions"
	case msgCertificate:
		return "Certificate"
	case msgServerKeyExchange:
		return "ServerKeyExchange"
	case msgCertificateRequest:
		return "CertificateRequest"
	case msgServerHelloDone:
		return "ServerHelloDone"
	case 22:
		return "CertificateStatus"
	case 0xff:
		return "HelloRetryRequest"
	}
	return fmt.Sprintf("handshake type %d", t)
}

// alertText names an alert as the RFCs do: "handshake_failure (40)".
func alertText(level, desc uint8) string {
	s := alertName(desc) + fmt.Sprintf(" (%d)", desc)
	if level == 1 {
		s += " at warning level"
	}
	return s
}

// alertName is a switch, not a map: a map literal is built at every start.
func alertName(d uint8) string {
	switch d {
	case 0:
		return "close_notify"
	case 10:
		return "unexpected_message"
	case 20:
		return "bad_record_mac"
	case 21:
		return "decryption_failed"
	case 22:
		return "record_overflow"
	case 30:
		return "decompression_failure"
	case 40:
		return "handshake_failure"
	case 41:
		return "no_certificate"
	case 42:
		return "bad_certificate"
	case 43:
		return "unsupported_certificate"
	case 44:
		return "certificate_revoked"
	case 45:
		return "certificate_expired"
	case 46:
		return "certificate_unknown"
	case 47:
		return "illegal_parameter"
	case 48:
		return "unknown_ca"
	case 49:
		return "access_denied"
	case 50:
		return "decode_error"
	case 51:
		return "decrypt_error"
	case 60:
		return "export_restriction"
	case 70:
		return "protocol_version"
	case 71:
		return "insufficient_security"
	case 80:
		return "internal_error"
	case 86:
		return "inappropriate_fallback"
	case 90:
		return "user_canceled"
	case 100:
		return "no_renegotiation"
	case 109:
		return "missing_extension"
	case 110:
		return "unsupported_extension"
	case 112:
		return "unrecognized_name"
	case 113:
		return "bad_certificate_status_response"
	case 115:
		return "unknown_psk_identity"
	case 116:
		return "certificate_required"
	case 120:
		return "no_application_protocol"
	}
	return "alert"
}
