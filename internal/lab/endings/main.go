// Command endings measures what each way of leaving a TLS hello costs a
// server in log lines: for every server of the integration environment
// (test/integration/netns.sh), every ending the handshake package knows,
// under TLS 1.3 and 1.2, it runs a few hellos and counts the lines the
// server's logs grew by. It made the table in the README
// (check_ssl_hello, "Quiet servers"). In the integration sandbox:
//
//	scripts/sandbox.sh bash -c 'test/integration/netns.sh up >/dev/null &&
//	    ip netns exec lbc-cli go run ./internal/lab/endings'
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/probe/tlshello/handshake"
)

type server struct {
	name     string
	addr     string
	starttls string
	versions []uint16
	logs     []string // under $LBC_STATE/logs
}

var verbose bool

// errorLine is what counts as an error line, whatever the server.
var errorLine = regexp.MustCompile(`(?i)error|fail|warning|alert|bad |reset|terminated|unexpected`)

func main() {
	n := flag.Int("n", 3, "hellos per server, version and ending")
	state := flag.String("state", os.Getenv("LBC_STATE"), "the integration state directory")
	only := flag.String("only", "", "only the servers whose name contains this")
	flag.BoolVar(&verbose, "v", false, "print the new log lines")
	flag.Parse()
	if *state == "" {
		*state = "/tmp/lbcheck-integration"
	}
	logs := func(names ...string) []string {
		for i, n := range names {
			names[i] = filepath.Join(*state, "logs", n)
		}
		return names
	}
	const v13, v12 = 0x0304, 0x0303
	servers := []server{
		{"nginx 1.22 https", "10.99.0.2:8443", "", []uint16{v13, v12}, logs("nginx-error.log", "access-tls13.log")},
		{"postfix 3.7 STARTTLS", "10.99.0.2:25", "smtp", []uint16{v13, v12}, logs("postfix.log")},
		{"dovecot 2.3 imaps", "10.99.0.2:993", "", []uint16{v13, v12}, logs("dovecot.log")},
		{"dovecot 2.3 pop3s", "10.99.0.2:995", "", []uint16{v13}, logs("dovecot.log")},
		{"dovecot 2.3 IMAP STARTTLS", "10.99.0.2:143", "imap", []uint16{v13}, logs("dovecot.log")},
		{"exim 4.96 smtps", "10.99.0.2:465", "", []uint16{v13, v12}, logs("exim-mainlog", "exim-paniclog", "exim-rejectlog")},
		{"exim 4.96 STARTTLS", "10.99.0.2:587", "smtp", []uint16{v13, v12}, logs("exim-mainlog", "exim-paniclog", "exim-rejectlog")},
		{"vsftpd 3.0 AUTH TLS", "10.99.0.2:21", "ftp", []uint16{v13}, logs("vsftpd.log", "vsftpd.out")},
		{"openssl s_server, client cert required", "10.99.0.2:4434", "", []uint16{v13}, logs("s_server-4434.log")},
		{"openssl s_server", "10.99.0.2:4441", "", []uint16{v13}, logs("s_server-4441.log")},
		{"openssl s_server", "10.99.0.2:4436", "", []uint16{v12}, logs("s_server-4436.log")},
		{"gnutls-serv 3.7, client cert requested", "10.99.0.2:4451", "", []uint16{v13, v12}, logs("gnutls-4451.out")},
		{"stunnel 5.68, and the backend behind it", "10.99.0.2:4470", "", []uint16{v13, v12}, logs("stunnel.log", "stunnel-backend.log")},
	}
	endings := []handshake.Ending{handshake.FatalAlert, handshake.CloseNotify, handshake.UserCanceled, handshake.Finish,
		handshake.TCPClose, handshake.TCPReset, handshake.PlainCloseNotify}
	fmt.Printf("Log lines per hello (of which error lines), %d hellos each.\n\n| server | TLS |", *n)
	for _, e := range endings {
		fmt.Printf(" %s |", handshake.EndingName(e))
	}
	fmt.Printf("\n|---|---|%s\n", strings.Repeat("---|", len(endings)))
	for _, s := range servers {
		if !strings.Contains(s.name, *only) {
			continue
		}
		for _, v := range s.versions {
			fmt.Printf("| %s (%s) | %s |", s.name, strings.TrimPrefix(s.addr, "10.99.0.2:"), strings.TrimPrefix(handshake.VersionName(v), "TLSv"))
			for _, e := range endings {
				fmt.Printf(" %s |", measure(s, v, e, *n))
			}
			fmt.Println()
		}
	}
}

// measure runs n hellos ending with e and returns "lines (errors)" per
// hello, or why it could not.
func measure(s server, v uint16, e handshake.Ending, n int) string {
	before := lineCounts(s.logs)
	for range n {
		what, err := hello(s, v, e)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		if what == "" {
			return "-" // not possible with this version
		}
	}
	settle(s.logs)
	lines, errs := 0, 0
	for _, f := range s.logs {
		for _, l := range newLines(f, before[f]) {
			if verbose {
				fmt.Fprintf(os.Stderr, "%s %s %s: %s\n", s.addr, handshake.VersionName(v), handshake.EndingName(e), l)
			}
			lines++
			if errorLine.MatchString(l) {
				errs++
			}
		}
	}
	return fmt.Sprintf("%.3g (%.3g)", float64(lines)/float64(n), float64(errs)/float64(n))
}

func hello(s server, v uint16, e handshake.Ending) (string, error) {
	conn, err := net.DialTimeout("tcp", s.addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := startTLS(conn, s.starttls); err != nil {
		return "", fmt.Errorf("%s: %w", s.starttls, err)
	}
	c := handshake.New(handshake.Config{MaxVersion: v})
	if err := c.Hello(conn); err != nil {
		return "", err
	}
	if r := c.Result(); r.Version != v {
		return "", fmt.Errorf("got %s", handshake.VersionName(r.Version))
	}
	return c.End(conn, e)
}

// startTLS is the least of each upgrade dialogue.
func startTLS(conn net.Conn, proto string) error {
	br := bufio.NewReader(conn)
	line := func() (string, error) { return br.ReadString('\n') }
	reply := func(prefix string) error { // multi-line replies: "250-", "250 "
		for {
			l, err := line()
			if err != nil {
				return err
			}
			if !strings.HasPrefix(l, prefix) {
				return fmt.Errorf("answer %q", l)
			}
			if len(l) > 3 && l[3] != '-' {
				return nil
			}
		}
	}
	var err error
	switch proto {
	case "":
		return nil
	case "smtp":
		if err = reply("220"); err == nil {
			fmt.Fprintf(conn, "EHLO endings.lab.test\r\n")
			if err = reply("250"); err == nil {
				fmt.Fprintf(conn, "STARTTLS\r\n")
				err = reply("220")
			}
		}
	case "ftp":
		if err = reply("220"); err == nil {
			fmt.Fprintf(conn, "AUTH TLS\r\n")
			err = reply("234")
		}
	case "imap":
		if _, err = line(); err == nil {
			fmt.Fprintf(conn, "a1 STARTTLS\r\n")
			for l := ""; err == nil && !strings.HasPrefix(l, "a1 "); l, err = line() {
			}
		}
	case "pop3":
		if _, err = line(); err == nil {
			fmt.Fprintf(conn, "STLS\r\n")
			_, err = line()
		}
	}
	if err == nil && br.Buffered() > 0 {
		err = fmt.Errorf("data before the handshake")
	}
	return err
}

func lineCounts(files []string) map[string]int {
	m := map[string]int{}
	for _, f := range files {
		m[f] = len(readLines(f))
	}
	return m
}

func readLines(f string) []string {
	b, err := os.ReadFile(f)
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func newLines(f string, from int) []string {
	l := readLines(f)
	if from > len(l) {
		return nil
	}
	return l[from:]
}

// settle waits until the logs stop growing for 1.5 s (servers write when
// the connection ends, some through a log process; exim's line can come
// half a second later), at most 6 s.
func settle(files []string) {
	size := func() (n int64) {
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	last, since, end := size(), time.Now(), time.Now().Add(6*time.Second)
	for time.Now().Before(end) && time.Since(since) < 1500*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
		if n := size(); n != last {
			last, since = n, time.Now()
		}
	}
}
