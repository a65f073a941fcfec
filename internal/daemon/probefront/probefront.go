// Package probefront is lbcheckd's Prometheus front: GET
// /probe?module=M&target=HOST:PORT, answered as blackbox_exporter answers
// it, so that its documented relabel configuration works unchanged.
//
// Every request gets an exposition of its own holding probe_success,
// probe_duration_seconds, probe_timeout_seconds, the check's phases
// (probe_http_duration_seconds{phase} and probe_dns_duration_seconds{phase}
// under blackbox's names and phase words, probe_<check>_duration_seconds
// for the checks blackbox lacks), the series blackbox's users graph where
// the check has one (probe_http_status_code, probe_ssl_earliest_cert_expiry,
// probe_tls_version_info, probe_dns_answer_rrs, ...), and
// probe_nagios_state.
//
// A request that gets no verdict fails the scrape instead (4xx, 5xx):
// Prometheus then marks the target's series stale rather than reading a
// probe_success of 0 for a backend nobody checked. That covers an unknown
// module (400), a bad target (400), a target outside allow (403), too many
// probes in flight (429), and a check that could not check (UNKNOWN: 500).
package probefront

import (
	"context"
	"crypto/tls"
	"net/http"
	"strconv"
	"time"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// DefaultOffset is taken off Prometheus' scrape timeout, as
// blackbox_exporter's --timeout-offset, so the answer is back in time.
const DefaultOffset = 500 * time.Millisecond

// Handler serves /probe from d. The probe's deadline is the module's -t,
// or the scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) less offset
// when that is shorter; never less than a quarter of the scrape timeout.
func Handler(d *daemon.Daemon, offset time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := daemon.RequestFromQuery(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx := r.Context()
		if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || !(secs > 0) || secs > 86400 {
				http.Error(w, "bad X-Prometheus-Scrape-Timeout-Seconds: "+strconv.Quote(v), http.StatusBadRequest)
				return
			}
			scrape := time.Duration(secs * float64(time.Second))
			req.Deadline = max(scrape-offset, scrape/4)
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, scrape)
			defer cancel()
		}
		req.Front = "probe"
		res, err := d.Check(ctx, req)
		if err != nil {
			// A failed scrape: the series go stale.
			http.Error(w, err.Error(), daemon.HTTPStatus(err, http.StatusServiceUnavailable))
			return
		}
		if res.State == exitcode.Unknown {
			// Could not check: not a backend's failure.
			http.Error(w, res.Line(res.Module.Cmd.Spec.Name), http.StatusInternalServerError)
			return
		}
		var x exposition
		collect(&x, res)
		w.Header().Set("Content-Type", contentType)
		w.Write(x.bytes())
	})
}

// phaseSeries names each check's phase metric and renames its phases to
// blackbox's words where blackbox has the series.
var phaseSeries = map[string]struct {
	name   string
	rename map[string]string
}{
	"check_http_status":   {"probe_http_duration_seconds", map[string]string{"first_byte": "processing"}},
	"check_dns_answer":    {"probe_dns_duration_seconds", map[string]string{"answer": "request"}},
	"check_ssl_hello":     {"probe_ssl_hello_duration_seconds", nil},
	"check_ftp_noop":      {"probe_ftp_duration_seconds", nil},
	"check_tcp_half_open": {"probe_tcp_half_open_duration_seconds", nil},
}

// The series, as blackbox_exporter names and explains them where it has
// them.
var (
	descSuccess  = desc{"probe_success", "Displays whether or not the probe was a success: 1 for an OK or WARNING verdict."}
	descDuration = desc{"probe_duration_seconds", "Returns how long the probe took to complete in seconds"}
	descTimeout  = desc{"probe_timeout_seconds", "Returns how long the probe timeout is in seconds"}
	descState    = desc{"probe_nagios_state", "The check's verdict as a Nagios state: 0 OK, 1 WARNING, 2 CRITICAL."}
	descAge      = desc{"probe_verdict_age_seconds", "How old the watched target's verdict is: the module keeps watch and answered from memory."}
	descProtocol = desc{"probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6"}
	descStatus   = desc{"probe_http_status_code", "Response HTTP status code"}
	descSSL      = desc{"probe_http_ssl", "Indicates if SSL was used for the final redirect"}
	descLength   = desc{"probe_http_content_length", "Length of http content response"}
	descExpiry   = desc{"probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime"}
	descTLSVer   = desc{"probe_tls_version_info", "Returns the TLS version used or NaN when unknown"}
	descCipher   = desc{"probe_tls_cipher_info", "Returns the TLS cipher negotiated during handshake"}
	descAnswer   = desc{"probe_dns_answer_rrs", "Returns number of entries in the answer resource record list"}
	descAuth     = desc{"probe_dns_authority_rrs", "Returns number of entries in the authority resource record list"}
	descExtra    = desc{"probe_dns_additional_rrs", "Returns number of entries in the additional resource record list"}
	descQuery    = desc{"probe_dns_query_succeeded", "Displays whether or not the query was executed successfully"}
)

const phaseHelp = "Duration of the probe by phase"

// collect puts one probe's series in x.
func collect(x *exposition, res daemon.Result) {
	gauge := func(d desc, v float64, label ...string) { x.gauge(d, v, label...) }
	success := 0.0
	if res.State == exitcode.OK || res.State == exitcode.Warning {
		success = 1
	}
	gauge(descSuccess, success)
	gauge(descDuration, res.Duration.Seconds())
	gauge(descTimeout, res.Deadline.Seconds())
	gauge(descState, float64(res.State))
	if res.Watched {
		gauge(descAge, res.Age.Seconds())
	}
	if res.Target != nil && res.Target.Addr.IsValid() {
		proto := 6.0
		if res.Target.Addr.Addr().Is4() {
			proto = 4
		}
		gauge(descProtocol, proto)
	}
	command := res.Module.Cmd.Spec.Command
	if s, ok := phaseSeries[command]; ok {
		seen := map[string]float64{}
		var order []string
		for _, p := range res.Phases {
			name := p.Name
			if n, ok := s.rename[name]; ok {
				name = n
			}
			if _, ok := seen[name]; !ok {
				order = append(order, name)
			}
			seen[name] += p.Duration.Seconds()
		}
		for _, name := range order {
			gauge(desc{s.name, phaseHelp}, seen[name], "phase", name)
		}
	}
	f := res.Facts
	switch command {
	case "check_http_status":
		gauge(descStatus, float64(f.HTTPStatus))
		ssl := 0.0
		if f.TLSVersion != 0 {
			ssl = 1
		}
		gauge(descSSL, ssl)
		for _, m := range res.Metrics {
			if m.Label == "size" {
				gauge(descLength, m.Value)
			}
		}
	case "check_dns_answer":
		ok := 0.0
		if f.DNSReply {
			ok = 1
			gauge(descAnswer, float64(f.DNSAnswer))
			gauge(descAuth, float64(f.DNSAuthority))
			gauge(descExtra, float64(f.DNSAdditional))
		}
		gauge(descQuery, ok)
	}
	if f.TLSVersion != 0 {
		gauge(descTLSVer, 1, "version", tlsVersion(f.TLSVersion))
		gauge(descCipher, 1, "cipher", tls.CipherSuiteName(f.TLSCipher))
	}
	if f.CertExpiry != 0 {
		gauge(descExpiry, float64(f.CertExpiry))
	}
}

// tlsVersion is blackbox_exporter's wording: "TLS 1.2".
func tlsVersion(v uint16) string {
	switch v {
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return "unknown"
}
