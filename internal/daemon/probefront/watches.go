package probefront

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// The /watches series: one of each per watched target, labelled module and
// target. probe_nagios_state and probe_success are the latest verdict's;
// probe_answered_nagios_state is what the fronts answer after fall and
// rise.
var watchSeries = []struct {
	desc
	value func(w *daemon.WatchState) (float64, bool)
}{
	{desc{"probe_success", "Whether the latest verdict was a success: 1 for OK or WARNING."}, func(w *daemon.WatchState) (float64, bool) {
		return b2f(w.Last.State == exitcode.OK || w.Last.State == exitcode.Warning), w.Refused == ""
	}},
	{desc{"probe_duration_seconds", "How long the latest probe took, in seconds."}, func(w *daemon.WatchState) (float64, bool) {
		return w.Last.Duration.Seconds(), w.Refused == ""
	}},
	{desc{"probe_nagios_state", "The latest verdict as a Nagios state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."}, func(w *daemon.WatchState) (float64, bool) {
		return float64(w.Last.State), true
	}},
	{desc{"probe_answered_nagios_state", "What the fronts answer, after fall and rise, as a Nagios state."}, func(w *daemon.WatchState) (float64, bool) {
		return float64(w.Answer.State), true
	}},
	{desc{"probe_verdict_timestamp_seconds", "When the latest verdict came, in Unix time."}, func(w *daemon.WatchState) (float64, bool) {
		return float64(w.At.UnixNano()) / 1e9, true
	}},
	{desc{"probe_last_change_timestamp_seconds", "When the verdict's state last changed, in Unix time."}, func(w *daemon.WatchState) (float64, bool) {
		return float64(w.Changed.UnixNano()) / 1e9, true
	}},
	{desc{"probe_response_time_ewma_seconds", "The EWMA of the measured response times, in seconds."}, func(w *daemon.WatchState) (float64, bool) {
		return w.EWMA.Seconds(), w.EWMA > 0
	}},
	{desc{"probe_agent_weight_percent", "The weight the agent answers (agent_weight), in percent."}, func(w *daemon.WatchState) (float64, bool) {
		return float64(w.Answer.Weight), w.Answer.Weight > 0
	}},
}

// WatchesHandler serves GET /watches: every watched target's latest
// verdict, in Prometheus' text format, or as JSON when the request's
// Accept asks for application/json.
func WatchesHandler(d *daemon.Daemon) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws := d.Watches()
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(watchesJSON(ws))
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Write(watchesText(ws))
	})
}

func watchesText(ws []daemon.WatchState) []byte {
	b := make([]byte, 0, 1024+len(ws)*len(watchSeries)*100)
	for _, s := range watchSeries {
		b = append(b, "# HELP "...)
		b = append(b, s.name...)
		b = append(b, ' ')
		b = appendEscaped(b, s.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, s.name...)
		b = append(b, " gauge\n"...)
		for i := range ws {
			v, ok := s.value(&ws[i])
			if !ok {
				continue
			}
			b = append(b, s.name...)
			b = append(b, `{module="`...)
			b = appendEscaped(b, ws[i].Module, true)
			b = append(b, `",target="`...)
			b = appendEscaped(b, ws[i].Target, true)
			b = append(b, `"} `...)
			b = appendValue(b, v)
			b = append(b, '\n')
		}
	}
	// A latest verdict the fronts refuse (could not check) has no
	// probe_success, as /probe answers none: it says why instead.
	b = append(b, "# HELP probe_refused "...)
	b = appendEscaped(b, refusedHelp, false)
	b = append(b, "\n# TYPE probe_refused gauge\n"...)
	for i := range ws {
		if ws[i].Refused == "" {
			continue
		}
		b = append(b, `probe_refused{module="`...)
		b = appendEscaped(b, ws[i].Module, true)
		b = append(b, `",target="`...)
		b = appendEscaped(b, ws[i].Target, true)
		b = append(b, `",reason="`...)
		b = appendEscaped(b, ws[i].Refused, true)
		b = append(b, "\"} 1\n"...)
	}
	return b
}

const refusedHelp = "1 when the fronts refuse the latest verdict (could not check), by reason: not_allowed, resolver_failed, resolver_timeout, unknown; probe_success and probe_duration_seconds are then left out."

type watchJSON struct {
	Module      string   `json:"module"`
	Target      string   `json:"target"`
	State       string   `json:"state"`
	Summary     string   `json:"summary"`
	Answered    string   `json:"answered"`
	Success     *bool    `json:"success,omitempty"`          // left out when refused
	Duration    *float64 `json:"duration_seconds,omitempty"` // likewise
	Reason      string   `json:"reason,omitempty"`           // why the fronts refuse the latest verdict
	VerdictTime float64  `json:"verdict_timestamp_seconds"`
	LastChange  float64  `json:"last_change_timestamp_seconds"`
	EWMA        float64  `json:"response_time_ewma_seconds"`
	Weight      int      `json:"agent_weight_percent,omitempty"`
	History     []string `json:"history"`
}

func watchesJSON(ws []daemon.WatchState) []watchJSON {
	out := make([]watchJSON, 0, len(ws))
	for i := range ws {
		w := &ws[i]
		h := make([]string, len(w.History))
		for j, s := range w.History {
			h[j] = s.String()
		}
		j := watchJSON{
			Module: w.Module, Target: w.Target, State: w.Last.State.String(), Summary: w.Last.Summary,
			Answered: w.Answer.State.String(), Reason: w.Refused, VerdictTime: float64(w.At.UnixNano()) / 1e9,
			LastChange: float64(w.Changed.UnixNano()) / 1e9, EWMA: w.EWMA.Seconds(), Weight: w.Answer.Weight, History: h,
		}
		if w.Refused == "" {
			success, took := w.Last.State == exitcode.OK || w.Last.State == exitcode.Warning, w.Last.Duration.Seconds()
			j.Success, j.Duration = &success, &took
		}
		out = append(out, j)
	}
	return out
}
