package daemon

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lbcheck/lbcheck/internal/version"
)

// Metrics are the daemon's own, served on /metrics: probes by module and
// result, refusals by reason, what is in flight, durations, reloads, and
// the Go runtime's and the process's.
type Metrics struct {
	Registry  *prometheus.Registry
	probes    *prometheus.CounterVec
	refused   *prometheus.CounterVec
	coalesced prometheus.Counter
	durations *prometheus.HistogramVec
	reloadOK  prometheus.Gauge
	reloadAt  prometheus.Gauge
	// bbReloadOK and bbReloadAt are the same under blackbox_exporter's
	// names, so that alert rules written for it keep working.
	bbReloadOK prometheus.Gauge
	bbReloadAt prometheus.Gauge
	modules    prometheus.Gauge
	// ConnsDropped counts connections closed to keep a front's cap, by
	// front (http, agent) and why: "idle" for the oldest connection not
	// being answered, shed to make room; "busy" for a new one closed
	// because every connection was being answered.
	ConnsDropped *prometheus.CounterVec
	answers      *prometheus.CounterVec
	// byFront are answers' children for the fronts there are, looked up
	// once: an ask from memory must stay cheaper than the label lookup.
	byFront map[string]prometheus.Counter
	// byModule are each module's probes and durations children, looked up
	// once (string -> *moduleMetrics): WithLabelValues hashes the labels
	// and takes a lock at each call, twice a probe, thousands of probes a
	// second when swept.
	byModule sync.Map
}

// moduleMetrics are one module's children. A result's counter is made at
// its first probe, as WithLabelValues would: no series of zeros.
type moduleMetrics struct {
	mu     sync.Mutex
	probes []prometheus.Counter // by States
	dur    prometheus.Observer
}

// States are the result label's values: the verdict's state, lower case.
var States = []string{"ok", "warning", "critical", "unknown"}

// NewMetrics registers the daemon's metrics; inFlight reports the probes
// running now.
func NewMetrics(inFlight func() float64) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbcheckd_probes_total",
			Help: "Probes run, by module and by the verdict's state (ok, warning, critical, unknown); a request answered by another's probe counts once.",
		}, []string{"module", "result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbcheckd_refused_total",
			Help: "Requests answered without a verdict, by reason: unknown_module, bad_target, not_allowed, overloaded (max_in_flight), no_verdict (the caller's deadline came first), resolver_failed and resolver_timeout (the daemon's resolver did not answer for a name: could not check); bad_request is counted by no front (refused before the daemon is asked).",
		}, []string{"reason"}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lbcheckd_coalesced_total",
			Help: "Requests answered by an identical probe already in flight.",
		}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lbcheckd_probe_duration_seconds",
			Help:    "How long probes took, attempts and name resolution included, by module.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"module"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbcheckd_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or kept the previous configuration (0).",
		}),
		reloadAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbcheckd_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration in force was loaded.",
		}),
		bbReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "blackbox_exporter_config_last_reload_successful",
			Help: "Blackbox exporter config loaded successfully (lbcheckd_config_last_reload_successful under blackbox_exporter's name).",
		}),
		bbReloadAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "blackbox_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload (lbcheckd_config_last_reload_success_timestamp_seconds under blackbox_exporter's name).",
		}),
		modules: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbcheckd_modules",
			Help: "Modules in the configuration in force.",
		}),
		ConnsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbcheckd_connections_dropped_total",
			Help: "Connections closed to keep a front's connection cap, by front (http, agent) and why: idle (the oldest one not being answered, shed for a new one), busy (a new one, every connection being answered).",
		}, []string{"front", "why"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbcheckd_watch_answers_total",
			Help: "Asks about a watched target answered from the watch (from memory, or from the probe in flight when the verdict was stale), by front; the watch's probes count in lbcheckd_probes_total.",
		}, []string{"front"}),
	}
	m.byFront = map[string]prometheus.Counter{}
	for _, front := range []string{"agent", "check", "probe"} {
		m.byFront[front] = m.answers.WithLabelValues(front)
	}
	for _, reason := range Reasons {
		m.refused.WithLabelValues(string(reason))
	}
	for _, front := range []string{"http", "agent"} {
		m.ConnsDropped.WithLabelValues(front, "idle")
		m.ConnsDropped.WithLabelValues(front, "busy")
	}
	r.MustRegister(m.probes, m.refused, m.coalesced, m.durations, m.reloadOK, m.reloadAt, m.bbReloadOK, m.bbReloadAt, m.modules, m.ConnsDropped, m.answers,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lbcheckd_probes_in_flight",
			Help: "Probes running now; at max_in_flight, requests are refused.",
		}, inFlight),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "lbcheckd_build_info",
			Help:        "lbcheckd's version.",
			ConstLabels: prometheus.Labels{"version": version.Version},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// configured records a configuration put in force.
func (m *Metrics) configured(cfg *Config) {
	now := float64(time.Now().Unix())
	m.reloadOK.Set(1)
	m.reloadAt.Set(now)
	m.bbReloadOK.Set(1)
	m.bbReloadAt.Set(now)
	m.modules.Set(float64(len(cfg.Modules)))
}

// ReloadFailed records a reload that kept the old configuration.
func (m *Metrics) ReloadFailed() {
	m.reloadOK.Set(0)
	m.bbReloadOK.Set(0)
}

func (m *Metrics) observe(req Request, res Result, err error) {
	var r *Refused
	if errors.As(err, &r) {
		m.refused.WithLabelValues(string(r.Reason)).Inc()
		return
	}
	if err != nil {
		return
	}
	if res.Shared {
		m.coalesced.Inc()
		return
	}
	if res.Watched {
		if c, ok := m.byFront[req.Front]; ok {
			c.Inc()
		} else {
			m.answers.WithLabelValues(req.Front).Inc()
		}
		return
	}
	m.probed(req.Module, res)
}

// probed counts one probe run.
func (m *Metrics) probed(module string, res Result) {
	state := len(States) - 1 // unknown
	if res.State >= 0 && int(res.State) < len(States) {
		state = int(res.State)
	}
	mm := m.module(module)
	mm.mu.Lock()
	c := mm.probes[state]
	if c == nil {
		c = m.probes.WithLabelValues(module, States[state])
		mm.probes[state] = c
	}
	mm.mu.Unlock()
	c.Inc()
	mm.dur.Observe(res.Duration.Seconds())
}

func (m *Metrics) module(name string) *moduleMetrics {
	if mm, ok := m.byModule.Load(name); ok {
		return mm.(*moduleMetrics)
	}
	mm, _ := m.byModule.LoadOrStore(name, &moduleMetrics{probes: make([]prometheus.Counter, len(States)), dur: m.durations.WithLabelValues(name)})
	return mm.(*moduleMetrics)
}

// watching adds the watch's metrics.
func (m *Metrics) watching(s *watches) {
	m.Registry.MustRegister(
		watchCollector{s},
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lbcheckd_watch_late_probes_total",
			Help: "Watch probes started more than 1 s after their slot.",
		}, func() float64 { return float64(s.late.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lbcheckd_watch_refused_total",
			Help: "New watches refused because max_watches targets were watched (the asks are answered as overload: 429, the agent closes).",
		}, func() float64 { return float64(s.refused.Load()) }),
	)
}

var descWatches = prometheus.NewDesc("lbcheckd_watches", "Targets watched, by module.", []string{"module"}, nil)

type watchCollector struct{ s *watches }

func (c watchCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descWatches }

func (c watchCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.s.counts()
	for name, mod := range c.s.d.Config().Modules {
		if mod.Watch != nil {
			ch <- prometheus.MustNewConstMetric(descWatches, prometheus.GaugeValue, float64(counts[name]), name)
		}
	}
}

// HalfOpen adds the shared half-open sockets' counters.
func (m *Metrics) HalfOpen(stats func() halfopen.MuxStats) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lbcheckd_halfopen_in_flight",
			Help: "Half-open probes waiting for their answer on the shared raw sockets.",
		}, func() float64 { return float64(stats().InFlight) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lbcheckd_halfopen_replies_total",
			Help: "SYN+ACK, RST and ICMP answers handed to their half-open probe.",
		}, func() float64 { return float64(stats().Replies) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lbcheckd_halfopen_unmatched_total",
			Help: "Packets the shared raw sockets read that answered no probe in flight (late answers, other traffic).",
		}, func() float64 { return float64(stats().Unmatched) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lbcheckd_halfopen_dropped_total",
			Help: "Packets the kernel dropped because a shared raw socket's receive queue was full (their SYNs are sent again).",
		}, func() float64 { return float64(stats().Dropped) }),
		sweepCollector{stats},
	)
}

// The sweeps' metrics: read from one MuxStats a scrape.
var (
	descSentBatch = prometheus.NewDesc("lbcheckd_halfopen_sent_batch_packets",
		"Packets (SYNs and RSTs) per sendmmsg(2) call of the half-open sockets. With thousands of watched half-open targets most calls should carry many: mostly 1 means the probes go one by one (names, --attempts above 1, modules without every).",
		nil, nil)
	descReadBatch = prometheus.NewDesc("lbcheckd_halfopen_read_batch_packets",
		"Packets per recvmmsg(2) call of the half-open sockets' readers. Calls at the top bucket mean the reader falls behind bursts of replies: watch lbcheckd_halfopen_dropped_total and raise net.core.rmem_max.",
		nil, nil)
	descLate = prometheus.NewDesc("lbcheckd_halfopen_late_replies_total",
		"Replies that answered a half-open probe (its keyed-hash ISN checks out) after that probe had ended: the target answered, slower than the module's -t, and was reported as no answer. A steady rate: raise -t for those targets.",
		nil, nil)
	descSendErrors = prometheus.NewDesc("lbcheckd_halfopen_send_errors_total",
		"SYNs and RSTs the half-open sockets could not send, by reason: enobufs (the send queue or the interface's queue was full: spread the targets with a longer every, or raise net.core.wmem_default), eperm (a firewall's output rule refused the packet: let the daemon's probes out), other. A probe whose SYN could not be sent is UNKNOWN, refused by the fronts: never down.",
		[]string{"reason"}, nil)
	descSweepInFlight = prometheus.NewDesc("lbcheckd_halfopen_sweep_in_flight",
		"Half-open probes of watches sent in sweeps and waiting for their answer. They hold no worker and no slot of max_in_flight, so they are not in lbcheckd_probes_in_flight.",
		nil, nil)
)

// sendErrorReasons are the reasons always exported, 0 until one counts:
// a rate over a series that appears only at the first error misses it.
var sendErrorReasons = []string{"enobufs", "eperm", "other"}

type sweepCollector struct{ stats func() halfopen.MuxStats }

func (c sweepCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSentBatch, descReadBatch, descLate, descSendErrors, descSweepInFlight} {
		ch <- d
	}
}

func (c sweepCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- batchHistogram(descSentBatch, s.SentBatch)
	ch <- batchHistogram(descReadBatch, s.ReadBatch)
	ch <- prometheus.MustNewConstMetric(descLate, prometheus.CounterValue, float64(s.Late))
	for _, r := range sendErrorReasons {
		ch <- prometheus.MustNewConstMetric(descSendErrors, prometheus.CounterValue, float64(s.SendErrors[r]), r)
	}
	for r, n := range s.SendErrors {
		if !slices.Contains(sendErrorReasons, r) {
			ch <- prometheus.MustNewConstMetric(descSendErrors, prometheus.CounterValue, float64(n), r)
		}
	}
	ch <- prometheus.MustNewConstMetric(descSweepInFlight, prometheus.GaugeValue, float64(s.SweepInFlight))
}

// batchHistogram is a BatchHistogram (cumulative counts per bound, as
// Prometheus' buckets) as a const histogram.
func batchHistogram(d *prometheus.Desc, h halfopen.BatchHistogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i := range min(len(h.Bounds), len(h.Counts)) {
		buckets[h.Bounds[i]] = h.Counts[i]
	}
	return prometheus.MustNewConstHistogram(d, h.Count, float64(h.Sum), buckets)
}

// DropFunc is a conncap.Cap's OnDrop for a front's counter.
func (m *Metrics) DropFunc(front string) func(idle bool) {
	idle, busy := m.ConnsDropped.WithLabelValues(front, "idle"), m.ConnsDropped.WithLabelValues(front, "busy")
	return func(wasIdle bool) {
		if wasIdle {
			idle.Inc()
		} else {
			busy.Inc()
		}
	}
}
