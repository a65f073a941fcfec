package daemon

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

func registry() checks.Registry { return checks.New((*halfopen.Mux)(nil).Spec()) }

// The example, with these very keys.
const example = `listen: 127.0.0.1:9707          # HTTP: /probe, /check, /metrics
agent_listen: 127.0.0.1:9708    # HAProxy agent-check protocol (optional)
allow: [10.0.0.0/8, "fd00::/8"] # targets outside these networks are refused
modules:
  http_health: [check_http_status, -u, /health]
  half_open:   [check_tcp_half_open]
  smtp_tls:    [check_ssl_hello, --starttls, smtp, --cert-days, "30,7"]
`

func TestParseExample(t *testing.T) {
	c, err := Parse([]byte(example), registry())
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9707" || c.AgentListen != "127.0.0.1:9708" || len(c.Allow) != 2 || len(c.Modules) != 3 || c.MaxInFlight != DefaultMaxInFlight {
		t.Errorf("parsed %+v", c)
	}
	if m := c.Modules["http_health"]; m.Cmd.Spec.Command != "check_http_status" || m.Cmd.Options.DefaultPort() != 80 {
		t.Errorf("http_health: %+v", m.Cmd)
	}
	if m := c.Modules["smtp_tls"]; m.Cmd.Spec.Command != "check_ssl_hello" {
		t.Errorf("smtp_tls: %+v", m.Cmd)
	}
	for _, tt := range []struct {
		addr string
		in   bool
	}{{"10.1.2.3", true}, {"fd00::5", true}, {"::ffff:10.0.0.1", true}, {"192.0.2.1", false}, {"fe80::1", false}} {
		if got := c.Allowed(mustAddr(tt.addr)); got != tt.in {
			t.Errorf("Allowed(%s) = %v", tt.addr, got)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte("allow: [192.0.2.5]\nmodules: {m: [check_dns_answer]}\n"), registry())
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.AgentListen != "" || c.Allow[0].String() != "192.0.2.5/32" {
		t.Errorf("defaults: listen %q agent %q allow %v", c.Listen, c.AgentListen, c.Allow)
	}
}

// TestParseRefuses: every bad configuration is refused with one line that
// names what is wrong.
func TestParseRefuses(t *testing.T) {
	const mods = "modules: {m: [check_dns_answer]}\n"
	tests := []struct {
		name, text, says string
	}{
		{"not yaml", "listen: [", "yaml"},
		{"unknown key", "allow: [10.0.0.0/8]\n" + mods + "max_inflight: 3\n", "max_inflight"},
		{"duplicate key", "allow: [10.0.0.0/8]\nallow: [10.0.0.0/8]\n" + mods, "allow"},
		{"no allow", mods, "allow: missing"},
		{"bad network", "allow: [10.0.0.0/33]\n" + mods, `allow "10.0.0.0/33"`},
		{"host bits", "allow: [10.0.0.1/8]\n" + mods, "did you mean 10.0.0.0/8"},
		{"bad address", "allow: [ten]\n" + mods, `allow "ten"`},
		{"no modules", "allow: [10.0.0.0/8]\n", "modules: none"},
		{"unknown check", "allow: [10.0.0.0/8]\nmodules: {m: [check_nope]}\n", `module m: "check_nope" is not a check`},
		{"empty module", "allow: [10.0.0.0/8]\nmodules: {m: []}\n", "module m: empty"},
		{"bad option", "allow: [10.0.0.0/8]\nmodules: {m: [check_http_status, --expect, abc]}\n", "module m: check_http_status: bad argument: --expect"},
		{"unknown option", "allow: [10.0.0.0/8]\nmodules: {m: [check_http_status, --nope]}\n", "module m: check_http_status: bad argument"},
		{"host in module", "allow: [10.0.0.0/8]\nmodules: {m: [check_http_status, 10.0.0.1]}\n", "takes no HOST"},
		{"format in module", "allow: [10.0.0.0/8]\nmodules: {m: [check_http_status, --format, json]}\n", "--format has no meaning"},
		{"bad module name", "allow: [10.0.0.0/8]\nmodules: {\"a b\": [check_dns_answer]}\n", `module "a b"`},
		{"bad listen", "listen: 9707\nallow: [10.0.0.0/8]\n" + mods, "listen \"9707\""},
		{"listen by name", "listen: example.org:9707\nallow: [10.0.0.0/8]\n" + mods, "must be an IP address"},
		{"same listeners", "listen: 127.0.0.1:1\nagent_listen: 127.0.0.1:1\nallow: [10.0.0.0/8]\n" + mods, "the same address"},
		{"max_in_flight", "max_in_flight: -1\nallow: [10.0.0.0/8]\n" + mods, "max_in_flight -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), registry())
			if err == nil {
				t.Fatalf("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, tt.says) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q; want one line containing %q", msg, tt.says)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lbcheckd.yml")
	if _, err := Load(path, registry()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(path, []byte("allow: [10.0.0.0/8]\nmodules: {m: [check_nope]}\n"), 0o644)
	if _, err := Load(path, registry()); err == nil || !strings.HasPrefix(err.Error(), path+": module m:") {
		t.Errorf("bad file: %v", err)
	}
	os.WriteFile(path, []byte(example), 0o644)
	if _, err := Load(path, registry()); err != nil {
		t.Error(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte(watchExample))
	f.Add([]byte("allow: [10.0.0.0/8]\nmodules: {m: [check_http_status, -e, '2xx']}\n"))
	reg := registry()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, reg)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error on more than one line: %q", err)
			}
			return
		}
		if len(c.Modules) == 0 || c.File.Allow == nil || c.MaxInFlight < 1 || c.MaxWatches < 1 {
			t.Errorf("accepted an incomplete config: %+v", c)
		}
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// watchExample is the map form, with -t lowered so that every is
// not shorter than the deadline.
const watchExample = `allow: [10.0.0.0/8, "fd00::/8"]
modules:
  http_health: [check_http_status, -u, /health]   # as today: a probe per ask
  web:
    check: [check_http_status, -u, /health, -w, "0.2", -c, "1", -t, "2"]
    every: 2s
    idle: 10m
    targets: [10.0.0.5:80, "[fd00::5]:80"]
    agent_weight: true
    fall: 2
    rise: 3
`

func TestParseWatch(t *testing.T) {
	c, err := Parse([]byte(watchExample), registry())
	if err != nil {
		t.Fatal(err)
	}
	if c.Modules["http_health"].Watch != nil {
		t.Error("the list form keeps watch")
	}
	w := c.Modules["web"].Watch
	if w == nil {
		t.Fatal("web keeps no watch")
	}
	if w.Every != 2*time.Second || w.Idle != 10*time.Minute || !w.AgentWeight || w.Fall != 2 || w.Rise != 3 ||
		w.WeightFull != 0.2 || w.WeightLow != 1 || len(w.Targets) != 2 || w.Targets[1].IP != mustAddr("fd00::5") || w.Targets[1].Port != 80 {
		t.Errorf("web: %+v", w)
	}
	if c.MaxWatches != DefaultMaxWatches {
		t.Errorf("max_watches %d", c.MaxWatches)
	}
	c, err = Parse([]byte("allow: [10.0.0.0/8]\nmodules:\n  m: {check: [check_dns_answer, -t, \"1\"], every: 1s}\n  n: {check: [check_dns_answer]}\n"), registry())
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Modules["m"].Watch; w.Idle != DefaultIdle || w.Fall != 1 || w.Rise != 1 || w.AgentWeight {
		t.Errorf("defaults: %+v", w)
	}
	if c.Modules["n"].Watch != nil {
		t.Error("a map without every keeps watch")
	}
}

// TestParseWatchRefuses: the bad inputs, each one line naming the
// key.
func TestParseWatchRefuses(t *testing.T) {
	mod := func(s string) string {
		return "allow: [10.0.0.0/8]\nmodules:\n  web: {check: [check_http_status, -t, \"2\", -w, \"0.2\", -c, \"1\"], " + s + "}\n"
	}
	tests := []struct {
		name, text, says string
	}{
		{"every 0", mod("every: 0"), "module web: every 0: want a duration above zero"},
		{"every negative", mod("every: -2s"), "module web: every -2s: want a duration above zero"},
		{"every shorter than deadline", mod("every: 1s"), "module web: every 1s: shorter than the module's deadline 2s (-t)"},
		{"every default deadline", "allow: [10.0.0.0/8]\nmodules:\n  web: {check: [check_http_status], every: 2s}\n", "every 2s: shorter than the module's deadline 5s"},
		{"every no unit", mod("every: 5"), `module web: every "5": want a duration`},
		{"every empty", mod(`every: ""`), `every`},
		{"every tiny", "allow: [10.0.0.0/8]\nmodules:\n  web: {check: [check_http_status, -t, \"0.01\"], every: 10ms}\n", "every 10ms: want 100ms to 24h0m0s"},
		{"unknown key", mod("every: 2s, evry: 3s"), "evry"},
		{"no check", "allow: [10.0.0.0/8]\nmodules:\n  web: {every: 2s}\n", "module web: check: missing"},
		{"idle short", mod("every: 2s, idle: 1s"), "module web: idle 1s: shorter than every 2s"},
		{"idle junk", mod("every: 2s, idle: soon"), `module web: idle "soon"`},
		{"idle without every", mod("idle: 1m"), "module web: idle: needs every"},
		{"fall 0", mod("every: 2s, fall: 0"), "module web: fall 0: want 1 to 100"},
		{"rise big", mod("every: 2s, rise: 101"), "module web: rise 101"},
		{"fall without every", mod("fall: 2"), "fall, rise: need every"},
		{"weight without every", mod("agent_weight: true"), "agent_weight: needs every"},
		{"weight without -c", "allow: [10.0.0.0/8]\nmodules:\n  web: {check: [check_http_status, -t, \"2\", -w, \"0.2\"], every: 2s, agent_weight: true}\n", "agent_weight: needs the check's -w and -c"},
		{"weight -c under -w", "allow: [10.0.0.0/8]\nmodules:\n  web: {check: [check_http_status, -t, \"2\", -w, \"1\", -c, \"0.5\"], every: 2s, agent_weight: true}\n", "agent_weight: needs"},
		{"bad target", mod("every: 2s, targets: [\"10.0.0.5:x\"]"), `module web: targets: "10.0.0.5:x"`},
		{"target outside allow", mod("every: 2s, targets: [\"192.0.2.1:80\"]"), "module web: targets: 192.0.2.1 is outside allow"},
		{"target twice", mod("every: 2s, targets: [\"10.0.0.5:80\", \"10.0.0.5\"]"), `targets: "10.0.0.5" listed twice`},
		{"no port", "allow: [10.0.0.0/8]\nmodules:\n  h: {check: [check_tcp_half_open], every: 5s, targets: [10.0.0.5]}\n", `targets: "10.0.0.5": want HOST:PORT`},
		{"max_watches", "max_watches: 1\n" + mod("every: 2s, targets: [\"10.0.0.5:80\", \"10.0.0.6:80\"]"), "max_watches 1: the modules list 2 targets"},
		{"max_watches negative", "max_watches: -1\n" + mod("every: 2s"), "max_watches -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), registry())
			if err == nil {
				t.Fatalf("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, tt.says) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q; want one line containing %q", msg, tt.says)
			}
		})
	}
}

// TestSourcePorts: halfopen_source_ports parses with halfopen's own
// parser, and a watched half-open module whose targets would come back
// to a source port within 75 s is refused with the figures and the fix.
func TestSourcePorts(t *testing.T) {
	ho := func(ports, every, timeout string) string {
		text := "allow: [10.0.0.0/8]\n"
		if ports != "" {
			text += "halfopen_source_ports: " + ports + "\n"
		}
		return text + "modules:\n  h: {check: [check_tcp_half_open, -t, \"" + timeout + "\"], every: " + every + "}\n"
	}
	for _, tt := range []struct {
		name, text string
		want       halfopen.PortRange
		says       string // "" when accepted
	}{
		{"default", ho("", "10s", "1"), halfopen.PortRange{}, ""},
		{"a range", ho("62000-62099", "1s", "1"), halfopen.PortRange{First: 62000, Last: 62099}, ""},
		{"just enough", ho("62000-62074", "1s", "1"), halfopen.PortRange{First: 62000, Last: 62074}, ""},
		{"not watched", "allow: [10.0.0.0/8]\nhalfopen_source_ports: 62000-62000\nmodules:\n  h: [check_tcp_half_open]\n", halfopen.PortRange{First: 62000, Last: 62000}, ""},
		{"another check", "allow: [10.0.0.0/8]\nhalfopen_source_ports: 62000-62000\nmodules:\n  h: {check: [check_http_status], every: 5s}\n", halfopen.PortRange{First: 62000, Last: 62000}, ""},
		{"junk", ho("lots", "10s", "1"), halfopen.PortRange{}, `halfopen_source_ports "lots": `},
		{"backwards", ho("62099-62000", "10s", "1"), halfopen.PortRange{}, `halfopen_source_ports "62099-62000": `},
		{"too high", ho("65535-65536", "10s", "1"), halfopen.PortRange{}, `halfopen_source_ports "65535-65536": `},
		{"reused too soon", ho("62000-62003", "10s", "1"), halfopen.PortRange{},
			"module h: every 10s with 4 source ports (halfopen_source_ports 62000-62003): a target would get a SYN from the same port every 40s, under 1m15s: a lost RST leaves the server a half-made connection that answers our next SYN from that port with a bare ACK; give halfopen_source_ports at least 8 ports or raise every to 18.75s"},
		{"default too small", ho("", "200ms", "0.1"), halfopen.PortRange{},
			"module h: every 200ms with 256 source ports (the default halfopen_source_ports): a target would get a SYN from the same port every 51.2s, under 1m15s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.text), registry())
			switch {
			case tt.says == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.says == "" && c.SourcePorts != tt.want:
				t.Errorf("range %+v, want %+v", c.SourcePorts, tt.want)
			case tt.says != "" && err == nil:
				t.Fatalf("accepted")
			case tt.says != "" && (!strings.Contains(err.Error(), tt.says) || strings.ContainsAny(err.Error(), "\r\n")):
				t.Errorf("error %q; want one line containing %q", err, tt.says)
			}
		})
	}
}

// TestNeedsRestart: what a reload cannot change is named in one line.
func TestNeedsRestart(t *testing.T) {
	base := "allow: [10.0.0.0/8]\nmodules: {h: [check_tcp_half_open]}\n"
	old := mustConfig(t, registry(), base)
	for _, tt := range []struct{ name, text, says string }{
		{"same", base, ""},
		{"allow", "allow: [10.0.0.0/9]\nmodules: {h: [check_tcp_half_open]}\n", ""},
		{"listen", "listen: 127.0.0.1:9\n" + base, "listen 127.0.0.1:9: changing it needs a restart"},
		{"agent_listen", "agent_listen: 127.0.0.1:9\n" + base, `agent_listen "127.0.0.1:9": changing it needs a restart`},
		{"ports", "halfopen_source_ports: 62000-62255\n" + base, "halfopen_source_ports 62000-62255: changing it needs a restart, which reserves the new ports while privileged (in force: the default)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := mustConfig(t, registry(), tt.text).NeedsRestart(old)
			if (err == nil) != (tt.says == "") || err != nil && !strings.Contains(err.Error(), tt.says) {
				t.Errorf("NeedsRestart: %v; want %q", err, tt.says)
			}
		})
	}
	ranged := mustConfig(t, registry(), "halfopen_source_ports: 62000-62255\n"+base)
	if err := mustConfig(t, registry(), base).NeedsRestart(ranged); err == nil || !strings.Contains(err.Error(), "halfopen_source_ports the default: changing it needs a restart, which reserves the new ports while privileged (in force: 62000-62255)") {
		t.Errorf("back to the default: %v", err)
	}
}

// TestSourcePortsOf: the range is read before the modules, for opening
// the sockets; a file that does not say one (or cannot) gives the default.
func TestSourcePortsOf(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, text string
		want       halfopen.PortRange
	}{
		{"set", "halfopen_source_ports: 62000-62255\nmodules: {x: [check_nope]}\n", halfopen.PortRange{First: 62000, Last: 62255}},
		{"unset", "allow: []\n", halfopen.PortRange{}},
		{"junk", "halfopen_source_ports: [", halfopen.PortRange{}},
		{"bad range", "halfopen_source_ports: 9-1\n", halfopen.PortRange{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".yml")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := SourcePortsOf(path); got != tt.want {
				t.Errorf("SourcePortsOf = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := SourcePortsOf(filepath.Join(dir, "missing.yml")); got != (halfopen.PortRange{}) {
		t.Errorf("missing file: %+v", got)
	}
}
