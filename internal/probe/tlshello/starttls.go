package tlshello

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// Bounds on a STARTTLS dialogue: a server that talks without end must not
// grow memory or hold the check past its deadline (reads carry it).
const (
	maxLine  = 2048 // bytes in one reply line
	maxLines = 64   // lines in one (multi-line) reply
)

// errTooLong reports a reply line or a multi-line reply over the bounds.
var errTooLong = errors.New("reply too long")

// startTLS runs the protocol's upgrade dialogue on conn. It returns a
// verdict and false when the server did not agree to the upgrade.
func (p *run) startTLS(conn net.Conn) (probe.Result, bool) {
	d := &dialogue{conn: conn, br: bufio.NewReaderSize(conn, maxLine), log: p.log, addr: p.addr, proto: p.o.StartTLS}
	var err error
	switch p.o.StartTLS {
	case "smtp":
		err = d.smtp()
	case "ftp":
		err = d.ftp()
	case "imap":
		err = d.imap()
	case "pop3":
		err = d.pop3()
	case "postgres":
		err = d.postgres()
	}
	if err == nil && d.br.Buffered() > 0 {
		// Bytes sent before our ClientHello would be taken as part of the
		// TLS session by a careless client (the STARTTLS injection flaw).
		peek, _ := d.br.Peek(d.br.Buffered())
		err = d.wrong("sent data before the TLS handshake", peek)
	}
	var w *wrongAnswer
	switch {
	case err == nil:
		return probe.Result{}, true
	case errors.As(err, &w):
		return probe.Critical("%s", w.text), false
	case errors.Is(err, errTooLong):
		return probe.Critical("%s %s: %v", p.o.StartTLS, p.addr, err), false
	}
	return probe.Fail(fmt.Sprintf("%s upgrade with %s, %s", p.o.StartTLS, p.addr, d.step), err), false
}

// wrongAnswer is an answer that ends the check: not an I/O error.
type wrongAnswer struct{ text string }

func (w *wrongAnswer) Error() string { return w.text }

type dialogue struct {
	conn  net.Conn
	br    *bufio.Reader
	log   *probe.Log
	addr  string
	proto string
	step  string // what we were doing, for an I/O error
}

func (d *dialogue) wrong(what string, line []byte) error {
	return &wrongAnswer{fmt.Sprintf("%s server %s %s %s", d.proto, d.addr, what, probe.Quote(line, 48))}
}

func (d *dialogue) send(line string) error {
	d.step = "sending " + strings.Fields(line)[0]
	d.log.Printf(1, "> %s", line)
	_, err := io.WriteString(d.conn, line+"\r\n")
	return err
}

// line reads one line, without its end, bounded by maxLine.
func (d *dialogue) line() ([]byte, error) {
	b, err := d.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("%w: a line of more than %d bytes", errTooLong, maxLine)
	}
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, "\r\n")
	d.log.Printf(1, "< %s", probe.Clean(string(b), 200))
	return b, nil
}

// reply reads an SMTP or FTP reply ("250-first", "250 last") and returns
// its code and last line.
func (d *dialogue) reply(what string) (int, []byte, error) {
	d.step = "waiting for " + what
	var code int
	for range maxLines {
		l, err := d.line()
		if err != nil {
			return 0, nil, err
		}
		if len(l) < 3 || !isDigits(l[:3]) || (len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			return 0, nil, d.wrong("answered "+what+" with", l)
		}
		c := int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
		if code != 0 && c != code {
			return 0, nil, d.wrong("changed reply code within a reply", l)
		}
		code = c
		if len(l) == 3 || l[3] == ' ' {
			return code, l, nil
		}
	}
	return 0, nil, fmt.Errorf("%w: more than %d lines", errTooLong, maxLines)
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// expect reads a reply and wants its code to be want.
func (d *dialogue) expect(what string, want int) error {
	code, l, err := d.reply(what)
	if err != nil {
		return err
	}
	if code != want {
		return d.wrong("answered "+what+" with", l)
	}
	return nil
}

func (d *dialogue) smtp() error {
	if err := d.expect("the greeting", 220); err != nil {
		return err
	}
	if err := d.send("EHLO " + d.helloName()); err != nil {
		return err
	}
	if err := d.expect("EHLO", 250); err != nil {
		return err
	}
	if err := d.send("STARTTLS"); err != nil {
		return err
	}
	return d.expect("STARTTLS", 220)
}

// helloName is our address as an SMTP address literal (RFC 5321 4.1.3):
// we have no name the server could check.
func (d *dialogue) helloName() string {
	ap, err := netip.ParseAddrPort(d.conn.LocalAddr().String())
	if err != nil {
		return "[127.0.0.1]"
	}
	if a := ap.Addr().Unmap(); a.Is4() {
		return "[" + a.String() + "]"
	}
	return "[IPv6:" + ap.Addr().WithZone("").String() + "]"
}

func (d *dialogue) ftp() error {
	if err := d.expect("the greeting", 220); err != nil {
		return err
	}
	if err := d.send("AUTH TLS"); err != nil {
		return err
	}
	return d.expect("AUTH TLS", 234)
}

func (d *dialogue) pop3() error {
	d.step = "waiting for the greeting"
	l, err := d.line()
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(l, []byte("+OK")) {
		return d.wrong("greeted with", l)
	}
	if err := d.send("STLS"); err != nil {
		return err
	}
	d.step = "waiting for the STLS answer"
	if l, err = d.line(); err != nil {
		return err
	}
	if !bytes.HasPrefix(l, []byte("+OK")) {
		return d.wrong("answered STLS with", l)
	}
	return nil
}

func (d *dialogue) imap() error {
	d.step = "waiting for the greeting"
	l, err := d.line()
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(l, []byte("* OK")) {
		return d.wrong("greeted with", l)
	}
	if err := d.send("a1 STARTTLS"); err != nil {
		return err
	}
	d.step = "waiting for the STARTTLS answer"
	// Untagged lines (a CAPABILITY) may come before the tagged answer.
	for range maxLines {
		if l, err = d.line(); err != nil {
			return err
		}
		if bytes.HasPrefix(l, []byte("a1 ")) {
			if !bytes.HasPrefix(l, []byte("a1 OK")) {
				return d.wrong("answered STARTTLS with", l)
			}
			return nil
		}
		if !bytes.HasPrefix(l, []byte("* ")) {
			return d.wrong("answered STARTTLS with", l)
		}
	}
	return fmt.Errorf("%w: more than %d lines", errTooLong, maxLines)
}

// postgres sends the SSLRequest message and reads the one-byte answer.
func (d *dialogue) postgres() error {
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:], 8)
	binary.BigEndian.PutUint32(req[4:], 80877103) // the SSLRequest code
	d.step = "sending SSLRequest"
	d.log.Printf(1, "> SSLRequest")
	if _, err := d.conn.Write(req[:]); err != nil {
		return err
	}
	d.step = "waiting for the SSLRequest answer"
	c, err := d.br.ReadByte()
	if err != nil {
		return err
	}
	d.log.Printf(1, "< %s", probe.Quote([]byte{c}, 1))
	switch c {
	case 'S':
		return nil
	case 'N':
		return &wrongAnswer{fmt.Sprintf("postgres server %s refuses TLS (answered N to SSLRequest)", d.addr)}
	}
	peek, _ := d.br.Peek(d.br.Buffered())
	return d.wrong("answered SSLRequest with", append([]byte{c}, peek...))
}
