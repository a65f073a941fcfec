// Package probefront is lbcheckd's Prometheus front: GET
// /probe?module=M&target=HOST:PORT, answered as blackbox_exporter answers
// it, so that its documented relabel configuration works unchanged. An
// HTTP module also takes blackbox's URL targets
// (target=https://host:8443/health, daemon.URLTarget).
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
// module (400), a bad target (400), an ask that is not one question (400;
// 405 for a method other than GET or HEAD), a target outside allow (403),
// too many probes in flight (429), a check that could not check (UNKNOWN:
// 500), and a name the daemon's resolver gave no answer for (500; 504 when
// it did not answer in time).
package probefront

import (
	"context"
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
		req, status, err := daemon.RequestFromHTTP(w, r)
		if err == nil {
			if err = daemon.URLTarget(&req); err != nil {
				status = http.StatusBadRequest
			}
		}
		if err != nil {
			http.Error(w, err.Error(), status)
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
