package daemon

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		if len(c.Modules) == 0 || c.Allow == nil || c.MaxInFlight < 1 {
			t.Errorf("accepted an incomplete config: %+v", c)
		}
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
