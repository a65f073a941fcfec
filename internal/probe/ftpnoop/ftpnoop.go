// Package ftpnoop is the probe of check_ftp_noop: read an FTP server's
// greeting, optionally secure the control connection (AUTH TLS) and log
// in, send NOOP and QUIT in one write, judge the reply to NOOP.
//
// It replaces keepalived's FTP_CHECK and Nagios' check_ftp. A NOOP proves
// the server's command loop, not just its accept(): so a reply counts only
// if it came after the command it answers (bytes queued before a command
// are a protocol error), and only with a code that command can get (NOOP:
// 200; SMTP's 250 is not FTP). vsftpd answers a NOOP before login with
// 530: that is still the command loop answering, so it passes (and the
// summary says so). No data connection is ever opened.
package ftpnoop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lbcheck/lbcheck/internal/flags"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/proxyproto"
	"github.com/lbcheck/lbcheck/internal/probe/tlsclient"
)

// quitWait is how long the answer to QUIT may take before we close anyway:
// the verdict is already made; waiting a moment only spares the server a
// reset (and a log line) when its 221 would land on a closed socket.
const quitWait = 20 * time.Millisecond

// Options are check_ftp_noop's own options.
type Options struct {
	User     string
	Password string
	AuthTLS  bool
	Client   tlsclient.Options  // --verify, --ca-file, --sni
	Proxy    proxyproto.Version // --proxy-protocol

}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flags.FlagSet) {
	fs.StringVar(&o.User, "user", "", "log in as `USER` before NOOP (e.g. anonymous); NOOP must then answer 200")
	fs.StringVar(&o.Password, "password", "", "`PASSWORD` for --user (visible in the process list: prefer an anonymous or check-only account)")
	fs.BoolVar(&o.AuthTLS, "auth-tls", false, "explicit FTPS: AUTH TLS and a TLS handshake before login and NOOP; the certificate is not verified unless --verify or --ca-file")
	o.Client.Flags(fs, "--auth-tls", true)
	proxyproto.Flag(fs, &o.Proxy, "")
}

// DefaultPort is 21.
func (o *Options) DefaultPort() uint16 { return 21 }

// Validate checks the options before anything is sent.
func (o *Options) Validate() error {
	for name, v := range map[string]string{"--user": o.User, "--password": o.Password} {
		// A CR or LF would end the command early and start another.
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("%s: no CR, LF or NUL allowed", name)
		}
	}
	if o.Password != "" && o.User == "" {
		return errors.New("--password needs --user")
	}
	if err := o.Client.Validate(o.AuthTLS); err != nil {
		return err
	}
	return nil
}

// Probe checks that the FTP server at t answers NOOP.
func Probe(ctx context.Context, t probe.Target, o *Options) probe.Result {
	t.Proxy = o.Proxy
	p := &run{t: t, o: o, log: t.Log, addr: t.Addr.String()}
	p.start = time.Now()
	p.mark = p.start
	conn, err := t.Dial(ctx)
	if err != nil {
		return probe.Fail("connect to "+p.addr, err)
	}
	defer conn.Close()
	p.log.Printf(1, "connected to %s from %s in %s", p.addr, conn.LocalAddr(), probe.Millis(p.phase("connect")))
	r := p.session(ctx, conn)
	r.Phases = p.phases
	return r
}

type run struct {
	t      probe.Target
	o      *Options
	log    *probe.Log
	addr   string
	start  time.Time
	mark   time.Time
	phases []probe.Phase
	// deadline is the context's, kept for the short wait after QUIT.
	deadline time.Time
	conn     net.Conn
	br       *bufio.Reader
}

func (p *run) phase(name string) time.Duration {
	now := time.Now()
	d := now.Sub(p.mark)
	p.mark = now
	p.phases = append(p.phases, probe.Phase{Name: name, Duration: d})
	return d
}

// session is the dialogue on an open control connection.
func (p *run) session(ctx context.Context, conn net.Conn) probe.Result {
	// Every read and write ends by the deadline, and at once on SIGTERM.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
		p.deadline = d
	}
	// The TCP connection's deadline also bounds TLS on top of it.
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()
	p.use(conn)

	greeting, err := p.read()
	if err != nil {
		return p.failed("waiting for the greeting from "+p.addr, greeting, err)
	}
	p.phase("greeting")
	switch greeting.code {
	case 220:
	case 120:
		return probe.Critical("%s is not ready yet: %s", p.addr, p.quote(greeting))
	case 421:
		return probe.Critical("%s refused the session: %s", p.addr, p.quote(greeting))
	default:
		return probe.Critical("greeting from %s is not 220: %s", p.addr, p.quote(greeting))
	}
	if r, bad := p.unasked("its greeting before any command"); bad {
		return r
	}

	how := ""
	if p.o.AuthTLS {
		rp, err := p.command("AUTH TLS", "AUTH TLS")
		if err != nil {
			return p.failed("AUTH TLS at "+p.addr, rp, err)
		}
		if rp.code != 234 {
			return p.refused("AUTH TLS", rp, p.addr+" refused AUTH TLS")
		}
		// Bytes before our ClientHello would be read as TLS, or worse,
		// as if they came inside it (the STARTTLS injection flaw).
		if r, bad := p.unasked("its reply to AUTH TLS before the TLS handshake"); bad {
			return r
		}
		tc, info, err := p.o.Client.Handshake(ctx, p.conn, p.t, "")
		if err != nil {
			return probe.Fail("TLS handshake with "+p.addr, err)
		}
		p.log.Printf(1, "TLS %s %s in %s", info.Version, info.Cipher, probe.Millis(p.phase("tls")))
		if line := info.ClientCertTrace(); line != "" {
			p.log.Printf(1, "%s", line)
		}
		p.use(tc)
		how += ", " + info.Version
	}

	if p.o.User != "" {
		refused := fmt.Sprintf("%s refused the login as %s", p.addr, probe.Clean(p.o.User, 40))
		rp, err := p.command("USER "+p.o.User, "USER "+p.o.User)
		if err != nil {
			return p.failed("login at "+p.addr, rp, err)
		}
		last := "USER"
		if rp.code == 331 || rp.code == 332 {
			if r, bad := p.unasked("its reply to USER before the next command"); bad {
				return r
			}
			rp, err = p.command("PASS "+p.o.Password, "PASS ****")
			if err != nil {
				return p.failed("login at "+p.addr, rp, err)
			}
			last = "PASS"
			if rp.code != 230 && rp.code != 202 {
				return p.refused("PASS", rp, refused)
			}
		} else if rp.code != 230 {
			return p.refused("USER", rp, refused)
		}
		if r, bad := p.unasked("its reply to " + last + " before the next command"); bad {
			return r
		}
		p.phase("login")
		how += ", as " + probe.Clean(p.o.User, 40)
	}

	// QUIT goes in the same write as NOOP: the 221 comes back in the same
	// round trip instead of one more (RFC 959 lets a client send the next
	// command before the reply; servers read the control connection line
	// by line). The first reply is NOOP's: nothing was queued before it
	// (unasked above), and a server that skipped NOOP gives QUIT's 221,
	// which NOOP cannot get.
	p.log.Printf(1, "> NOOP")
	p.log.Printf(1, "> QUIT")
	if _, err := io.WriteString(p.conn, "NOOP\r\nQUIT\r\n"); err != nil {
		return p.failed("NOOP at "+p.addr, reply{}, err)
	}
	rp, err := p.read()
	if err != nil {
		return p.failed("NOOP at "+p.addr, rp, err)
	}
	p.phase("noop")
	took := time.Since(p.start)
	p.awaitGoodbye()
	if rp.code == 200 || rp.code == 530 && p.o.User == "" {
		note := ""
		if rp.code == 530 {
			note = " (login needed; the command loop answers)"
		}
		r := probe.OK("NOOP %d%s from %s in %s%s; %s", rp.code, note, p.addr, probe.Millis(took), how, p.quote(greeting))
		r.Took = took
		return r
	}
	if !canGet("NOOP", rp.code) {
		return probe.Critical("NOOP at %s answered %s, not a reply to NOOP%s", p.addr, p.quote(rp), looksLike("NOOP", rp.code))
	}
	return probe.Critical("NOOP at %s answered %s", p.addr, p.quote(rp))
}

// refused is the verdict on a failed reply to cmd: said says so when the
// code is one cmd can get, else the reply is named as out of place.
func (p *run) refused(cmd string, rp reply, said string) probe.Result {
	if canGet(cmd, rp.code) {
		return probe.Critical("%s: %s", said, p.quote(rp))
	}
	return probe.Critical("%s answered %s with %s, not a reply to %s%s", p.addr, cmd, p.quote(rp), cmd, looksLike(cmd, rp.code))
}

// unasked is a verdict when the server sent more than the reply just read
// before our next command: a reply counts only if it came after the
// command it answers. Both what our buffer holds and what waits in the
// kernel count; over TLS only the former (the records behind it may be
// session tickets, which are no reply).
func (p *run) unasked(after string) (probe.Result, bool) {
	var extra []byte
	if n := p.br.Buffered(); n > 0 {
		extra, _ = p.br.Peek(min(n, 64))
	} else if sc, ok := p.conn.(syscall.Conn); ok {
		extra = peekQueued(sc)
	}
	if len(extra) == 0 {
		return probe.Result{}, false
	}
	p.log.Printf(1, "< unasked: %s", probe.Quote(extra, 64))
	return probe.Critical("%s sent more than %s: %s", p.addr, after, probe.Quote(extra, 48)), true
}

// peekQueued returns up to 64 bytes that wait on the socket, without
// waiting or taking them: one non-blocking recv(MSG_PEEK).
func peekQueued(sc syscall.Conn) []byte {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var buf [64]byte
	n := 0
	rc.Read(func(fd uintptr) bool {
		n, _, _ = unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true // whatever it found: never wait for more
	})
	if n <= 0 {
		return nil // nothing, end of stream, or an error the next read will report
	}
	return buf[:n]
}

// canGet says whether code is a reply cmd can get: RFC 959 section 5.4,
// RFC 2228 for AUTH, plus what servers are known to send (vsftpd's 530
// to NOOP before login and to AUTH without TLS, 502 for a command not
// implemented).
func canGet(cmd string, code int) bool {
	switch cmd {
	case "USER":
		return code == 230 || code == 331 || code == 332 || code == 421 || code == 500 || code == 501 || code == 530
	case "PASS":
		return code == 202 || code == 230 || code == 332 || code == 421 || code == 500 || code == 501 || code == 503 || code == 530
	case "AUTH TLS":
		return code == 234 || code == 334 || code == 421 || code == 431 || code == 530 || code == 534 || code >= 500 && code <= 504
	case "NOOP":
		return code == 200 || code == 421 || code == 500 || code == 502 || code == 530
	}
	return false
}

// looksLike names what a reply out of place suggests, as ": ..." or "".
func looksLike(cmd string, code int) string {
	switch {
	case code == 250 && cmd == "NOOP":
		return ": an SMTP server?" // SMTP answers NOOP 250; FTP answers 200
	case code == 220:
		return ": a second greeting (a proxy?)"
	case code == 221 && cmd == "NOOP":
		return ": the reply to QUIT (NOOP went unanswered?)"
	}
	return ""
}

// use makes c the control connection.
func (p *run) use(c net.Conn) {
	p.conn = c
	p.br = bufio.NewReaderSize(c, 4096)
}

// command sends one command line and reads its reply; shown is what the
// trace prints (never the password).
func (p *run) command(line, shown string) (reply, error) {
	p.log.Printf(1, "> %s", shown)
	if _, err := io.WriteString(p.conn, line+"\r\n"); err != nil {
		return reply{}, err
	}
	return p.read()
}

func (p *run) read() (reply, error) {
	rp, err := readReply(p.br)
	for _, l := range rp.lines {
		p.log.Printf(1, "< %s", l)
	}
	return rp, err
}

// awaitGoodbye waits only a moment for the 221 to the QUIT already sent.
func (p *run) awaitGoodbye() {
	wait := time.Now().Add(quitWait)
	if p.deadline.IsZero() || wait.Before(p.deadline) {
		p.conn.SetReadDeadline(wait)
	}
	p.read()
}

// failed turns a read error into a verdict: a timeout or a closed
// connection as such, and text that is not FTP quoted.
func (p *run) failed(what string, got reply, err error) probe.Result {
	if errors.Is(err, errNotFTP) {
		return probe.Critical("%s: %v: %s", what, strings.TrimPrefix(err.Error(), errNotFTP.Error()+": "), p.quote(got))
	}
	r := probe.Fail(what, err)
	if len(got.lines) > 0 && !r.Timeout {
		r.Summary += " after " + p.quote(got)
	}
	return r
}

// quote renders the first line of a reply for the summary.
func (p *run) quote(rp reply) string {
	more := ""
	if len(rp.lines) > 1 {
		more = fmt.Sprintf(" (+%d lines)", len(rp.lines)-1)
	}
	return probe.Quote(rp.first(), 60) + more
}
