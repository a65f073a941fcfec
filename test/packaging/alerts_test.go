package packaging

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAlertRules: packaging/lbcheckd/alerts.yml passes its promtool unit
// tests (testdata/alerts_test.yml), fed blackbox_exporter's series and
// lbcheckd's. promtool is Debian's prometheus package, which make test
// does not require: without it the test skips and says so (make
// integration runs the same tests and fails without it).
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus): alerts.yml is tested by make integration")
	}
	out, err := exec.Command(promtool, "test", "rules", "testdata/alerts_test.yml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
