package daemon

import (
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

// TestHalfOpenMetrics: the sweeps' families are there with their types,
// their values read from the Mux's stats, one read a scrape for all five,
// and every send error reason exported before it first counts.
func TestHalfOpenMetrics(t *testing.T) {
	stats := halfopen.MuxStats{
		Late:          7,
		SendErrors:    map[string]uint64{"eperm": 3, "enetunreach": 1},
		SentBatch:     halfopen.BatchHistogram{Bounds: []float64{1, 2, 4, 8, 16, 32, 64}, Counts: []uint64{1, 1, 2, 2, 2, 2, 5}, Count: 5, Sum: 200},
		ReadBatch:     halfopen.BatchHistogram{Bounds: []float64{1, 2, 4, 8, 16, 32, 64}, Counts: []uint64{4, 6, 6, 6, 6, 6, 6}, Count: 6, Sum: 8},
		SweepInFlight: 42,
	}
	var reads atomic.Int32 // Gather collects at once
	m := NewMetrics(func() float64 { return 0 })
	m.HalfOpen(func() halfopen.MuxStats { reads.Add(1); return stats })
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		got[f.GetName()] = f
	}
	for _, tt := range []struct {
		name string
		typ  dto.MetricType
	}{
		{"lbcheckd_halfopen_sent_batch_packets", dto.MetricType_HISTOGRAM},
		{"lbcheckd_halfopen_read_batch_packets", dto.MetricType_HISTOGRAM},
		{"lbcheckd_halfopen_late_replies_total", dto.MetricType_COUNTER},
		{"lbcheckd_halfopen_send_errors_total", dto.MetricType_COUNTER},
		{"lbcheckd_halfopen_sweep_in_flight", dto.MetricType_GAUGE},
	} {
		if f := got[tt.name]; f == nil || f.GetType() != tt.typ || f.GetHelp() == "" {
			t.Errorf("%s: %v, want a %v with help", tt.name, f, tt.typ)
		}
	}
	if t.Failed() {
		return
	}
	sent := got["lbcheckd_halfopen_sent_batch_packets"].Metric[0].GetHistogram()
	if sent.GetSampleCount() != 5 || sent.GetSampleSum() != 200 || len(sent.Bucket) != 7 ||
		sent.Bucket[0].GetUpperBound() != 1 || sent.Bucket[0].GetCumulativeCount() != 1 ||
		sent.Bucket[6].GetUpperBound() != 64 || sent.Bucket[6].GetCumulativeCount() != 5 {
		t.Errorf("sent batch histogram: %v", sent)
	}
	read := got["lbcheckd_halfopen_read_batch_packets"].Metric[0].GetHistogram()
	if read.GetSampleCount() != 6 || read.GetSampleSum() != 8 || read.Bucket[1].GetCumulativeCount() != 6 {
		t.Errorf("read batch histogram: %v", read)
	}
	if v := got["lbcheckd_halfopen_late_replies_total"].Metric[0].GetCounter().GetValue(); v != 7 {
		t.Errorf("late replies %v, want 7", v)
	}
	if v := got["lbcheckd_halfopen_sweep_in_flight"].Metric[0].GetGauge().GetValue(); v != 42 {
		t.Errorf("sweep in flight %v, want 42", v)
	}
	errs := map[string]float64{}
	for _, mt := range got["lbcheckd_halfopen_send_errors_total"].Metric {
		errs[mt.Label[0].GetValue()] = mt.GetCounter().GetValue()
	}
	want := map[string]float64{"enobufs": 0, "eperm": 3, "other": 0, "enetunreach": 1}
	if len(errs) != len(want) {
		t.Errorf("send errors %v, want %v", errs, want)
	}
	for r, v := range want {
		if errs[r] != v {
			t.Errorf("send errors{reason=%q} %v, want %v", r, errs[r], v)
		}
	}
	// The four older families read the stats once each; the sweeps' five
	// read them once together.
	if n := reads.Load(); n != 5 {
		t.Errorf("the stats were read %d times for one scrape, want 5", n)
	}
}

// TestProbedLabels: a probe counts under its state's name, lower case.
func TestProbedLabels(t *testing.T) {
	m := NewMetrics(func() float64 { return 0 })
	for _, s := range []exitcode.State{exitcode.OK, exitcode.Warning, exitcode.Critical, exitcode.Critical, exitcode.Unknown} {
		m.probed("m", Result{State: s})
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() == "lbcheckd_probes_total" {
			for _, mt := range f.Metric {
				for _, l := range mt.Label {
					if l.GetName() == "result" {
						got[l.GetValue()] = mt.GetCounter().GetValue()
					}
				}
			}
		}
	}
	want := map[string]float64{"ok": 1, "warning": 1, "critical": 2, "unknown": 1}
	if len(got) != len(want) {
		t.Errorf("results %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("result=%q: %v, want %v", k, got[k], v)
		}
	}
}
