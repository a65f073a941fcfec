package debugfront

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
)

func TestMaskArgv(t *testing.T) {
	cases := []struct {
		name       string
		argv, want []string
	}{
		{"no secret", []string{"check_http_status", "-u", "/health"}, []string{"check_http_status", "-u", "/health"}},
		{"password apart", []string{"check_ftp_noop", "--user", "u", "--password", "pw"}, []string{"check_ftp_noop", "--user", "u", "--password", Masked}},
		{"password joined", []string{"check_ftp_noop", "--password=pw"}, []string{"check_ftp_noop", "--password=" + Masked}},
		{"password empty joined", []string{"check_ftp_noop", "--password="}, []string{"check_ftp_noop", "--password=" + Masked}},
		{"password last, no value", []string{"check_ftp_noop", "--password"}, []string{"check_ftp_noop", "--password"}},
		{"password that looks an option", []string{"check_ftp_noop", "--password", "--user", "u"}, []string{"check_ftp_noop", "--password", Masked, "u"}},
		{"option value that looks --password", []string{"check_ftp_noop", "--user", "--password", "--password", "pw"}, []string{"check_ftp_noop", "--user", "--password", Masked, Masked}},
		{"password after --", []string{"check_ftp_noop", "--user", "--", "--password", "pw"}, []string{"check_ftp_noop", "--user", "--", "--password", Masked}},
		{"password looks a header", []string{"check_ftp_noop", "--password", "--header=x"}, []string{"check_ftp_noop", "--password", Masked}},
		{"authorization header", []string{"check_http_status", "--header", "Authorization: Bearer tok"}, []string{"check_http_status", "--header", "Authorization: " + Masked}},
		{"cookie header joined", []string{"check_http_status", "--header=cookie:a=b"}, []string{"check_http_status", "--header=cookie: " + Masked}},
		{"any other header masked", []string{"check_http_status", "--header", "X-Api-Key: s3cret"}, []string{"check_http_status", "--header", "X-Api-Key: " + Masked}},
		{"plain header kept", []string{"check_http_status", "--header", "Accept: text/plain"}, []string{"check_http_status", "--header", "Accept: text/plain"}},
		{"query values masked", []string{"check_http_status", "-u", "/health?token=s3cret&x"}, []string{"check_http_status", "-u", "/health?token=" + Masked + "&x"}},
		{"query joined", []string{"check_http_status", "--path=/h?k=v"}, []string{"check_http_status", "--path=/h?k=" + Masked}},
		{"path without query kept", []string{"check_http_status", "--path", "/h?"}, []string{"check_http_status", "--path", "/h?"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := slices.Clone(c.argv)
			if got := MaskArgv(c.argv); !slices.Equal(got, c.want) {
				t.Errorf("MaskArgv(%q) = %q, want %q", c.argv, got, c.want)
			}
			if !slices.Equal(in, c.argv) {
				t.Errorf("MaskArgv changed its argument: %q", c.argv)
			}
		})
	}
}

// FuzzMaskArgv: whatever the argv, every token after a --password token
// and every --password=VALUE's value is masked, and the number of tokens
// stays.
func FuzzMaskArgv(f *testing.F) {
	f.Add("--user\x00lab\x00--password\x00pw")
	f.Add("--password=pw\x00--header\x00Authorization: x")
	f.Add("--header\x00--password\x00--header=cookie:x")
	f.Fuzz(func(t *testing.T, joined string) {
		argv := strings.Split(joined, "\x00")
		out := MaskArgv(argv)
		if len(out) != len(argv) {
			t.Fatalf("%d tokens in, %d out", len(argv), len(out))
		}
		for i, a := range argv {
			if a == "--password" && i+1 < len(argv) && out[i+1] != Masked {
				t.Errorf("%q: token %d after --password shows as %q", argv, i+1, out[i+1])
			}
			if strings.HasPrefix(a, "--password=") && out[i] != "--password="+Masked && out[i] != Masked {
				t.Errorf("%q: %q shows as %q", argv, a, out[i])
			}
		}
	})
}

func TestHistory(t *testing.T) {
	mod := &daemon.Module{Name: "m"}
	cases := []struct {
		name  string
		size  int
		added int
		ids   []uint64 // List's, newest first
	}{
		{"empty", 3, 0, nil},
		{"under", 3, 2, []uint64{1, 0}},
		{"full", 3, 3, []uint64{2, 1, 0}},
		{"wrapped", 3, 7, []uint64{6, 5, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := NewHistory(c.size)
			for i := range c.added {
				h.Add(daemon.Request{Module: "m", Target: fmt.Sprint("10.0.0.", i)}, daemon.Result{Module: mod, State: exitcode.OK})
			}
			var ids []uint64
			for _, e := range h.List() {
				ids = append(ids, e.ID)
				if e.Target != fmt.Sprint("10.0.0.", e.ID) {
					t.Errorf("entry %d holds target %s", e.ID, e.Target)
				}
			}
			if !slices.Equal(ids, c.ids) {
				t.Errorf("List: %v, want %v", ids, c.ids)
			}
			for id := range uint64(c.added + 2) {
				_, ok := h.Get(id)
				if want := slices.Contains(c.ids, id); ok != want {
					t.Errorf("Get(%d) found %v, want %v", id, ok, want)
				}
			}
		})
	}
}

// TestHistoryBoundsTrace: a probe's trace is kept to MaxTraceBytes, so the
// history's memory is bounded whatever a peer sends.
func TestHistoryBoundsTrace(t *testing.T) {
	h := NewHistory(2)
	long := strings.Repeat("x", 1000)
	trace := make([]string, 100)
	for i := range trace {
		trace[i] = long
	}
	res := daemon.Result{Module: &daemon.Module{Name: "m"}}
	res.Trace = trace
	h.Add(daemon.Request{Target: "t"}, res)
	e, _ := h.Get(0)
	n := 0
	for _, l := range e.Result.Trace {
		n += len(l) + 1
	}
	if n > MaxTraceBytes+100 || len(e.Result.Trace) < 2 || !strings.Contains(e.Result.Trace[len(e.Result.Trace)-1], "not kept") {
		t.Errorf("kept %d bytes in %d lines, want at most %d and a note", n, len(e.Result.Trace), MaxTraceBytes)
	}
	if len(trace) != 100 || trace[99] != long {
		t.Error("Add changed the caller's trace")
	}
	// The probe's target holds its whole log: the history keeps neither.
	log := probe.NewLog(2)
	for range 100 {
		log.Printf(2, "%s", long)
	}
	res.Target = &probe.Target{Log: log}
	h.Add(daemon.Request{Target: "t"}, res)
	if e, _ := h.Get(1); e.Result.Target == nil || e.Result.Target.Log != nil {
		t.Errorf("the history keeps the probe's whole log through its target: %+v", e.Result.Target)
	}
	if res.Target.Log != log {
		t.Error("Add changed the caller's target")
	}
}

// TestMaskTrace: a debug page shows no credential a probe sent or got:
// the request line's query and every header value but the plain ones.
func TestMaskTrace(t *testing.T) {
	in := []string{
		"> GET /health?token=s3cret HTTP/1.1",
		"> Host: www.lab.test",
		"> X-Api-Key: s3cret",
		"> Authorization: Bearer s3cret",
		"> Accept: */*",
		"< HTTP/1.1 200 OK",
		"< Set-Cookie: session=s3cret",
		"< Content-Type: text/plain",
		"connected to 192.0.2.5:80",
	}
	want := []string{
		"> GET /health?token=" + Masked + " HTTP/1.1",
		"> Host: www.lab.test",
		"> X-Api-Key: " + Masked,
		"> Authorization: " + Masked,
		"> Accept: */*",
		"< HTTP/1.1 200 OK",
		"< Set-Cookie: " + Masked,
		"< Content-Type: text/plain",
		"connected to 192.0.2.5:80",
	}
	if got := MaskTrace(in); !slices.Equal(got, want) {
		t.Errorf("MaskTrace:\n got %q\nwant %q", got, want)
	}
}

// TestConfigYAML: /config writes each module in the form it was written
// in (a list, or the map form of a watch), passwords masked, and what it
// writes reads back as the same modules.
func TestConfigYAML(t *testing.T) {
	reg := checks.Registry{"check_ftp_noop": checks.FTPNoop()}
	text := "allow: [192.0.2.0/24]\nmodules:\n" +
		"  plain: [check_ftp_noop, --user, u, --password, secret1]\n" +
		"  watched: {check: [check_ftp_noop, -t, \"1\", --user, u, --password=secret2], every: 2s, idle: 1m, targets: [\"192.0.2.5:21\"], fall: 2, rise: 3}\n"
	cfg, err := daemon.Parse([]byte(text), reg)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ConfigYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"secret1", "secret2"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("/config shows %s:\n%s", secret, out)
		}
	}
	back, err := daemon.Parse(out, reg)
	if err != nil {
		t.Fatalf("/config does not read back: %v\n%s", err, out)
	}
	if back.Modules["plain"].Watch != nil {
		t.Errorf("plain came back watched:\n%s", out)
	}
	w := back.Modules["watched"].Watch
	if w == nil || w.Every != 2*time.Second || w.Idle != time.Minute || len(w.Targets) != 1 || w.Fall != 2 || w.Rise != 3 {
		t.Errorf("watched came back as %+v:\n%s", w, out)
	}
}

// TestPageOfAWatchedTarget: debug=true on a watched module is answered
// from the watch's memory, and the page says so rather than pass it off
// as a fresh, traced probe.
func TestPageOfAWatchedTarget(t *testing.T) {
	cfg, err := daemon.Parse([]byte("allow: [192.0.2.0/24]\nmodules:\n  w: {check: [check_ftp_noop, -t, \"1\"], every: 2s}\n"),
		checks.Registry{"check_ftp_noop": checks.FTPNoop()})
	if err != nil {
		t.Fatal(err)
	}
	mod := cfg.Modules["w"]
	res := daemon.Result{Module: mod, Watched: true, Age: 1500 * time.Millisecond, Deadline: time.Second, State: exitcode.OK, Summary: "NOOP 200"}
	res.Verdict.Command = mod.Cmd
	page := Page(Entry{Time: time.Now(), Target: "192.0.2.5:21", Traced: true, Result: res}, "/check")
	if !strings.Contains(page, "module w keeps watch, and this is its verdict from memory, 1.5 s old") {
		t.Errorf("the page does not say the verdict came from the watch:\n%s", page)
	}
}
