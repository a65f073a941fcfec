//go:build integration

package integration

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// bbListen is where the test's blackbox_exporter listens, in lbc-cli.
const bbListen = "127.0.0.1:9115"

// The same work in both: each lbcheckd module beside the blackbox module
// that does it.
const bbLbdModules = `  http: [check_http_status, -t, "2"]
  http_201: [check_http_status, -t, "2", --expect, "201"]
  tcp: [check_tcp_half_open, -t, "2"]
  tls: [check_ssl_hello, -t, "2"]
  ftp_starttls: [check_ssl_hello, -t, "2", --starttls, ftp]
  dns_a: [check_dns_answer, -t, "2", --name, www.example.org]
  dns_soa: [check_dns_answer, -t, "2", --name, example.org, --type, SOA]
`

const bbModules = `modules:
  http:
    prober: http
    timeout: 2s
    http:
      tls_config: {insecure_skip_verify: true}
  http_201:
    prober: http
    timeout: 2s
    http:
      valid_status_codes: [201]
  tcp:
    prober: tcp
    timeout: 2s
  tls:
    prober: tcp
    timeout: 2s
    tcp:
      tls: true
      tls_config: {insecure_skip_verify: true}
  ftp_starttls:
    prober: tcp
    timeout: 2s
    tcp:
      query_response:
        - expect: "^220 "
        - send: "AUTH TLS"
        - expect: "^234"
        - starttls: true
      tls_config: {insecure_skip_verify: true}
  dns_a:
    prober: dns
    timeout: 2s
    dns: {query_name: www.example.org, query_type: A}
  dns_soa:
    prober: dns
    timeout: 2s
    dns: {query_name: example.org, query_type: SOA}
`

// startBlackbox runs Debian's prometheus-blackbox-exporter in lbc-cli
// until the test ends.
func startBlackbox(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("prometheus-blackbox-exporter")
	if err != nil {
		t.Fatalf("prometheus-blackbox-exporter: %v (scripts/deps.sh install integration)", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "blackbox.yml")
	if err := os.WriteFile(conf, []byte(bbModules), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "blackbox.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+conf, "--web.listen-address="+bbListen)
	keepRunning(t, "blackbox_exporter", cmd, func() error { return nsStart(cmd, nsClient) }, logf, 30)
	waitAnswers(t, "blackbox_exporter", "http://"+bbListen+"/metrics")
}

// family is one metric family of an exposition: its type and samples,
// each its labels (sorted name="value" pairs, joined) and value.
type family struct {
	typ     string
	samples map[string]float64
}

// parseExposition reads the text format both exporters write.
func parseExposition(t *testing.T, text string) map[string]*family {
	t.Helper()
	fams := map[string]*family{}
	get := func(name string) *family {
		if fams[name] == nil {
			fams[name] = &family{samples: map[string]float64{}}
		}
		return fams[name]
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "# HELP "):
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			get(f[2]).typ = f[3]
		default:
			i := strings.LastIndexByte(line, ' ')
			if i < 0 {
				t.Fatalf("not a sample: %q", line)
			}
			series, val := line[:i], line[i+1:]
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			name, labels, _ := strings.Cut(series, "{")
			pairs := splitLabels(strings.TrimSuffix(labels, "}"))
			slices.Sort(pairs)
			get(name).samples[strings.Join(pairs, ",")] = v
		}
	}
	return fams
}

// splitLabels splits name="value",... at the commas between pairs (a value
// may hold a comma: subjectalternative="a,b").
func splitLabels(s string) []string {
	var out []string
	for s != "" {
		name, rest, _ := strings.Cut(s, `="`)
		end := 0
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		out = append(out, name+`="`+rest[:min(end, len(rest))]+`"`)
		s = strings.TrimPrefix(rest[min(end+1, len(rest)):], ",")
	}
	return out
}

// deliberate reads README.md's table of deliberate differences: family to
// "lbcheckd only", "blackbox only" or "value".
func deliberate(t *testing.T) map[string]string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "<!-- deliberate differences: begin -->")
	j := strings.Index(text, "<!-- deliberate differences: end -->")
	if i < 0 || j < i {
		t.Fatal("README.md has no table of deliberate differences")
	}
	out := map[string]string{}
	for _, line := range strings.Split(text[i:j], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		out[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
	}
	if len(out) == 0 {
		t.Fatal("README.md's table of deliberate differences is empty")
	}
	return out
}

// timings are families whose values are each exporter's own measure.
var timings = map[string]bool{
	"probe_duration_seconds": true, "probe_dns_lookup_time_seconds": true,
	"probe_http_duration_seconds": true, "probe_dns_duration_seconds": true,
}

// compareFamilies lists every difference between lbcheckd's answer and
// blackbox's that the table does not make deliberate: a family one of them
// lacks, a type, a series (its labels), a value outside the timings.
func compareFamilies(lb, bb map[string]*family, allowed map[string]string) []string {
	var diffs []string
	names := map[string]bool{}
	for n := range lb {
		names[n] = true
	}
	for n := range bb {
		names[n] = true
	}
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}) {
		l, b := lb[n], bb[n]
		switch {
		case b == nil:
			if allowed[n] != "lbcheckd only" {
				diffs = append(diffs, n+": lbcheckd only")
			}
			continue
		case l == nil:
			if allowed[n] != "blackbox only" {
				diffs = append(diffs, n+": blackbox only")
			}
			continue
		case l.typ != b.typ:
			diffs = append(diffs, fmt.Sprintf("%s: type %s, blackbox %s", n, l.typ, b.typ))
		}
		for labels, lv := range l.samples {
			bv, ok := b.samples[labels]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s{%s}: lbcheckd only (blackbox has %v)", n, labels, keys(b.samples)))
			case !timings[n] && lv != bv && allowed[n] != "value":
				diffs = append(diffs, fmt.Sprintf("%s{%s}: %v, blackbox %v", n, labels, lv, bv))
			}
		}
		for labels := range b.samples {
			if _, ok := l.samples[labels]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s{%s}: blackbox only", n, labels))
			}
		}
	}
	return diffs
}

func keys(m map[string]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestLbcheckdLikeBlackbox asks Debian's blackbox_exporter 0.23 and
// lbcheckd the same questions about the same real servers (nginx HTTP and
// HTTPS, a TCP port, a TLS port, vsftpd's AUTH TLS, unbound; up and down)
// and compares the answers family by family: names, types, series and
// their labels, and every value but the timings. Any difference not in
// README.md's table of deliberate ones fails.
func TestLbcheckdLikeBlackbox(t *testing.T) {
	startBackendSet(t)
	startLbcheckd(t, bbLbdModules)
	startBlackbox(t)
	allowed := deliberate(t)
	at := func(port int) string { return srv4 + ":" + strconv.Itoa(port) }
	tests := []struct {
		name, module, target string
		success              string // probe_success both must say
	}{
		{"http up, URL target", "http", "http://" + at(bePortHTTP) + "/health", "1"},
		{"http unexpected status", "http_201", "http://" + at(bePortHTTP) + "/health?x=1", "0"},
		{"http refused", "http", "http://" + at(bePortClosed) + "/", "0"},
		{"https up", "http", "https://" + at(bePortTLS) + "/health", "1"},
		{"tcp up", "tcp", at(bePortHTTP), "1"},
		{"tcp refused", "tcp", at(bePortClosed), "0"},
		{"tls up", "tls", at(bePortTLS), "1"},
		{"tls refused", "tls", at(bePortClosed), "0"},
		{"starttls up (vsftpd AUTH TLS)", "ftp_starttls", srv4 + ":21", "1"},
		{"starttls refused", "ftp_starttls", at(bePortClosed), "0"},
		{"dns A", "dns_a", at(bePortDNS), "1"},
		{"dns SOA", "dns_soa", at(bePortDNS), "1"},
		{"dns port closed", "dns_a", at(bePortClosed), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := "/probe?module=" + tt.module + "&target=" + url.QueryEscape(tt.target)
			lbText, err := nsGet("http://" + lbdHTTP + q)
			if err != nil {
				t.Fatalf("lbcheckd %s: %v", q, err)
			}
			bbText, err := nsGet("http://" + bbListen + q)
			if err != nil {
				t.Fatalf("blackbox %s: %v", q, err)
			}
			lb, bb := parseExposition(t, lbText), parseExposition(t, bbText)
			for who, fams := range map[string]map[string]*family{"lbcheckd": lb, "blackbox": bb} {
				if f := fams["probe_success"]; f == nil || strconv.FormatFloat(f.samples[""], 'g', -1, 64) != tt.success {
					t.Errorf("%s: probe_success is not %s", who, tt.success)
				}
			}
			if diffs := compareFamilies(lb, bb, allowed); len(diffs) > 0 {
				t.Errorf("%d differences not in README.md's table:\n  %s\nlbcheckd:\n%s\nblackbox:\n%s",
					len(diffs), strings.Join(diffs, "\n  "), lbText, bbText)
			}
		})
	}
}
