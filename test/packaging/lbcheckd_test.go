package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLbcheckdDefaultConfig: the configuration the packages install is one
// lbcheckd accepts, allows nothing until edited, and listens on loopback.
func TestLbcheckdDefaultConfig(t *testing.T) {
	out, err := exec.Command(filepath.Join(binDir, "lbcheckd"), "--check-config", "--config", "../../packaging/lbcheckd/lbcheckd.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("lbcheckd --check-config: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "listen 127.0.0.1:9707") || !strings.Contains(string(out), "0 networks allowed") {
		t.Errorf("the shipped configuration: %s", out)
	}
}

// TestLbcheckdUnit: the systemd unit runs lbcheckd unprivileged, with
// CAP_NET_RAW as its one capability, sandboxed; systemd-analyze accepts it.
func TestLbcheckdUnit(t *testing.T) {
	src, err := os.ReadFile("../../packaging/lbcheckd/lbcheckd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(src)
	for _, line := range []string{
		"DynamicUser=yes", "AmbientCapabilities=CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_RAW",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"ExecStart=/usr/sbin/lbcheckd --config /etc/lbcheck/lbcheckd.yml", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(unit) {
			t.Errorf("the unit lacks %q", line)
		}
	}
	if regexp.MustCompile(`(?m)^User=root$`).MatchString(unit) {
		t.Error("the unit runs as root")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("no systemd-analyze here: the unit's syntax is not verified")
		return
	}
	// verify wants the ExecStart binary where the unit says it is: a copy
	// of the unit pointing at the built one.
	dir := t.TempDir()
	copyUnit := strings.ReplaceAll(unit, "/usr/sbin/lbcheckd", filepath.Join(binDir, "lbcheckd"))
	path := filepath.Join(dir, "lbcheckd.service")
	os.WriteFile(path, []byte(copyUnit), 0o644)
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	// verify also complains about units of the host it reads; only lines
	// naming ours count.
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "lbcheckd.service") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	if err != nil && !strings.Contains(string(out), "lbcheckd.service") {
		t.Logf("systemd-analyze verify exited %v over other units: %s", err, out)
	}
}

// TestLbcheckdManPage: the page names every option lbcheckd parses.
func TestLbcheckdManPage(t *testing.T) {
	page, err := os.ReadFile("../../packaging/man/lbcheckd.8")
	if err != nil {
		t.Fatal(err)
	}
	help, _ := exec.Command(filepath.Join(binDir, "lbcheckd"), "-h").CombinedOutput()
	opts := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(string(help), -1)
	if len(opts) < 4 {
		t.Fatalf("lbcheckd -h lists %d options: %s", len(opts), help)
	}
	text := strings.ReplaceAll(string(page), `\-`, "-")
	for _, o := range opts {
		if !strings.Contains(text, "--"+o[1]) {
			t.Errorf("man lbcheckd does not name --%s", o[1])
		}
	}
}
