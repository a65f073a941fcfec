package probefront

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestExpositionParses: what /probe writes is read back by Prometheus' own
// text parser (prometheus/common/expfmt), every series a gauge with its
// help, labels and values intact, hostile label values included.
func TestExpositionParses(t *testing.T) {
	var x exposition
	x.gauge(desc{"probe_b", "second\\ help\nwith a line feed"}, 1.5)
	x.gauge(desc{"probe_a", "phases"}, 0.001, "phase", "connect")
	x.gauge(desc{"probe_a", "phases"}, 2e-7, "phase", `a "quoted" \ value`+"\n")
	x.gauge(desc{"probe_c", "specials"}, math.NaN())
	x.gauge(desc{"probe_d", "infinite"}, math.Inf(1))
	out := x.bytes()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	a := fams["probe_a"]
	if a == nil || len(a.Metric) != 2 || a.GetType().String() != "GAUGE" || a.GetHelp() != "phases" {
		t.Fatalf("probe_a: %v", a)
	}
	if got := a.Metric[1].Label[0].GetValue(); got != `a "quoted" \ value`+"\n" {
		t.Errorf("label value %q", got)
	}
	if got := a.Metric[1].Gauge.GetValue(); got != 2e-7 {
		t.Errorf("value %v", got)
	}
	if got := fams["probe_b"].GetHelp(); got != "second\\ help\nwith a line feed" {
		t.Errorf("help %q", got)
	}
	if !math.IsNaN(fams["probe_c"].Metric[0].Gauge.GetValue()) || !math.IsInf(fams["probe_d"].Metric[0].Gauge.GetValue(), 1) {
		t.Errorf("NaN and +Inf did not read back:\n%s", out)
	}
	// grouped and sorted by name
	if i, j := strings.Index(string(out), "probe_a"), strings.Index(string(out), "probe_b"); i > j {
		t.Errorf("not sorted:\n%s", out)
	}
}

// TestProbeParses: a whole /probe answer reads back, with the content
// type Prometheus negotiates for.
func TestProbeParses(t *testing.T) {
	h := Handler(fakeDaemon(t), DefaultOffset)
	code, body := get(t, h, "/probe?module=m&target=192.0.2.5:1")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%v in\n%s", err, body)
	}
	for _, name := range []string{"probe_success", "probe_duration_seconds", "probe_timeout_seconds", "probe_nagios_state",
		"probe_ip_protocol", "probe_http_status_code", "probe_http_ssl", "probe_http_duration_seconds"} {
		if fams[name] == nil {
			t.Errorf("no %s in\n%s", name, body)
		}
	}
	if expfmt.ResponseFormat(map[string][]string{"Content-Type": {contentType}}) != expfmt.NewFormat(expfmt.TypeTextPlain) {
		t.Errorf("content type %q is not the text format's", contentType)
	}
}
