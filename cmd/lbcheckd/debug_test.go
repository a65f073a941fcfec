package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebugPages: debug=true on /probe and /check answers blackbox's debug
// layout with the probe's trace, its metrics and the module's command line;
// / lists the probes with a page each; /config is the configuration in
// force; no page shows a --password's value.
func TestDebugPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbcheckd.yml")
	const secret = "secret" // the lab FTP server's; no page may show it
	writeConfig(t, path, "  web: [check_http_status, -u, /status/503, --expect, \"503\"]\n"+
		"  ftp: [check_ftp_noop, --user, lab, --password, "+secret+"]\n")
	r := startDaemon(t, "--config", path)
	defer r.stop(t)

	web := webLab.HTTP.String()
	cases := []struct {
		name, path string
		code       int
		want       []string // in this order
	}{
		{"probe debug", "/probe?module=web&debug=true&target=" + web, 200, []string{
			"Logs for the probe:\n",
			`module=web target="` + web + `"`,
			"> GET /status/503 HTTP/1.1\n", // the -v trace
			"> Host: ",                     // the -vv trace
			"< HTTP/1.1 503",
			"HTTP_STATUS OK - 503",
			`msg="Probe succeeded"`,
			"\n\n\n\nMetrics that would have been returned:\n",
			"\nprobe_http_status_code 503\n",
			"\nprobe_success 1\n",
			"\n\n\n\nModule configuration:\nmodule: web\n",
			"command line (add -vv for this trace): check_http_status -u /status/503 --expect 503 " + web + "\n",
			"asked through: /probe\n",
		}},
		{"check debug, password masked", "/check?module=ftp&debug=true&target=" + ftpLab.OK.String(), 200, []string{
			"Logs for the probe:\n",
			"FTP_NOOP OK",
			"/check answers: 200 (up)\n",
			"\nprobe_success 1\n",
			"command line (add -vv for this trace): check_ftp_noop --user lab --password '****' " + ftpLab.OK.String() + "\n",
			"asked through: /check\n",
		}},
		{"check debug, down", "/check?module=web&debug=true&target=" + webLab.Closed.String(), 200, []string{
			"HTTP_STATUS CRITICAL",
			`msg="Probe failed"`,
			"/check answers: 503 (down)\n",
			"\nprobe_success 0\n",
		}},
		{"debug refused: no verdict to show", "/probe?module=nope&debug=true&target=" + web, 400, []string{"unknown module"}},
		{"debug=false is a scrape", "/probe?module=web&debug=false&target=" + web, 200, []string{"# HELP probe_success"}},
		{"a plain scrape has no page", "/probe?module=web&target=" + web, 200, []string{"# HELP probe_success"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := r.get(t, c.path)
			if code != c.code {
				t.Fatalf("%s: %d, want %d:\n%s", c.path, code, c.code, body)
			}
			rest := body
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%s: no %q (in this order) in:\n%s", c.path, w, body)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(body, secret) {
				t.Errorf("%s shows the password:\n%s", c.path, body)
			}
			if strings.Contains(c.name, "scrape") && strings.Contains(body, "Logs for the probe") {
				t.Errorf("%s: a scrape got the debug page", c.path)
			}
		})
	}

	// The index lists the probes just run (the refused one is no probe),
	// newest first, each with its page.
	code, index := r.get(t, "/")
	if code != 200 || strings.Contains(index, secret) {
		t.Fatalf("/: %d, or shows the password:\n%s", code, index)
	}
	rows := regexp.MustCompile(`<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>(?:<strong>)?([A-Z]+).*?<a href="logs\?id=([0-9]+)">`).FindAllStringSubmatch(index, -1)
	if len(rows) != 5 {
		t.Fatalf("/ lists %d probes, want 5:\n%s", len(rows), index)
	}
	if rows[0][1] != "web" || rows[0][3] != "OK" || rows[2][1] != "web" || rows[2][2] != webLab.Closed.String() || rows[2][3] != "CRITICAL" || rows[3][1] != "ftp" {
		t.Errorf("/ lists, newest first: %q", rows)
	}
	if !strings.Contains(index, "ftp: check_ftp_noop --user lab --password &#39;****&#39;\n") {
		t.Errorf("/ does not list the modules, password masked:\n%s", index)
	}
	code, page := r.get(t, "/logs?id="+rows[2][4])
	if code != 200 || !strings.Contains(page, "HTTP_STATUS CRITICAL") || strings.Contains(page, "no protocol trace") {
		t.Errorf("/logs?id=%s: %d\n%s", rows[2][4], code, page)
	}
	code, page = r.get(t, "/logs?id="+rows[4][4])
	if code != 200 || !strings.Contains(page, "HTTP_STATUS OK - 503") || !strings.Contains(page, "> GET /status/503") {
		t.Errorf("/logs?id=%s: %d\n%s", rows[4][4], code, page)
	}
	code, page = r.get(t, "/logs?id="+rows[0][4])
	if code != 200 || !strings.Contains(page, "(no protocol trace: this probe ran without debug=true)") {
		t.Errorf("/logs?id=%s of a plain scrape: %d\n%s", rows[0][4], code, page)
	}
	if code, _ := r.get(t, "/logs?id=999"); code != http.StatusNotFound {
		t.Errorf("/logs of no probe: %d, want 404", code)
	}

	code, cfg := r.get(t, "/config")
	if code != 200 || strings.Contains(cfg, secret) || !strings.Contains(cfg, "- --password\n  - '****'\n") ||
		!strings.Contains(cfg, "max_in_flight: 1024\n") || !strings.Contains(cfg, "- /status/503\n") {
		t.Errorf("/config: %d\n%s", code, cfg)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// stop ends the daemon as its unit would, and waits for it.
func (r *daemonRun) stop(t *testing.T) {
	t.Helper()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("lbcheckd still running 10 s after SIGTERM")
	}
}
