package probefront

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"time"

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
		return float64(w.Weight), w.Weight > 0
	}},
}

// WatchesHandler serves GET /watches: every watched target's latest
// verdict, in Prometheus' text format, or as JSON when the request's
// Accept asks for application/json. The body is streamed a watch at a
// time through a small buffer (100,000 watches made a 70 MB body in
// memory), and one scrape runs at a time: others wait, within their own
// context, so that concurrent scrapes cost no more memory than one.
func WatchesHandler(d *daemon.Daemon) http.Handler {
	one := make(chan struct{}, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case one <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		defer func() { <-one }()
		bw := bufio.NewWriterSize(w, watchesBuffer)
		json := strings.Contains(r.Header.Get("Accept"), "application/json")
		if json {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", contentType)
		}
		// The header first (the server's own bound on writing, if any, is
		// armed by it), then a bound that grows with the body: 65,536
		// watches took a busy daemon over a second to write, and a fixed
		// 2 s cut one scrape in five short.
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(watchesWriteWait(d.WatchCount())))
		if json {
			writeWatchesJSON(bw, d)
		} else {
			writeWatchesText(bw, d)
		}
		bw.Flush()
	})
}

// watchesWriteWait is how long writing /watches may take: 2 s, and a
// second more for every 10,000 watches (a client that reads slower than
// that holds the one scrape a time no longer).
func watchesWriteWait(n int) time.Duration {
	return 2*time.Second + time.Duration(n)*time.Second/10_000
}

// watchesBuffer is how much of the body is held before it is written.
const watchesBuffer = 32 << 10

// writeWatchesText writes the families one after the other (Prometheus
// wants each family's samples together), a pass over the watches each.
// It stops at the first failed write (the client left).
func writeWatchesText(bw *bufio.Writer, d *daemon.Daemon) {
	b := make([]byte, 0, 256)
	line := func(name string, ws *daemon.WatchState, reason string, v float64) bool {
		b = append(b[:0], name...)
		b = append(b, `{module="`...)
		b = appendEscaped(b, ws.Module, true)
		b = append(b, `",target="`...)
		b = appendEscaped(b, ws.Target, true)
		if reason != "" {
			b = append(b, `",reason="`...)
			b = appendEscaped(b, reason, true)
		}
		b = append(b, `"} `...)
		b = appendValue(b, v)
		b = append(b, '\n')
		_, err := bw.Write(b)
		return err == nil
	}
	header := func(name, help string) bool {
		b = append(b[:0], "# HELP "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = appendEscaped(b, help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, name...)
		b = append(b, " gauge\n"...)
		_, err := bw.Write(b)
		return err == nil
	}
	for _, s := range watchSeries {
		if !header(s.name, s.help) {
			return
		}
		ok := true
		d.EachWatch(func(ws *daemon.WatchState) bool {
			v, has := s.value(ws)
			if has {
				ok = line(s.name, ws, "", v)
			}
			return ok
		})
		if !ok {
			return
		}
	}
	// A latest verdict the fronts refuse (could not check) has no
	// probe_success, as /probe answers none: it says why instead.
	if !header("probe_refused", refusedHelp) {
		return
	}
	d.EachWatch(func(ws *daemon.WatchState) bool {
		return ws.Refused == "" || line("probe_refused", ws, ws.Refused, 1)
	})
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

// writeWatchesJSON writes a JSON array, an element per watch.
func writeWatchesJSON(bw *bufio.Writer, d *daemon.Daemon) {
	enc := json.NewEncoder(bw)
	sep := byte('[')
	var h []string
	d.EachWatch(func(w *daemon.WatchState) bool {
		h = h[:0]
		for _, s := range w.History {
			h = append(h, s.String())
		}
		j := watchJSON{
			Module: w.Module, Target: w.Target, State: w.Last.State.String(), Summary: w.Last.Summary,
			Answered: w.Answer.State.String(), Reason: w.Refused, VerdictTime: float64(w.At.UnixNano()) / 1e9,
			LastChange: float64(w.Changed.UnixNano()) / 1e9, EWMA: w.EWMA.Seconds(), Weight: w.Weight, History: h,
		}
		if w.Refused == "" {
			success, took := w.Last.State == exitcode.OK || w.Last.State == exitcode.Warning, w.Last.Duration.Seconds()
			j.Success, j.Duration = &success, &took
		}
		bw.WriteByte(sep)
		sep = ','
		return enc.Encode(j) == nil
	})
	if sep == '[' {
		bw.WriteByte('[')
	}
	bw.WriteString("]\n")
}
