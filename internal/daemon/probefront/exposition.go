package probefront

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// A probe's answer is a dozen gauges, written once. A registry, a
// collector and promhttp for them cost more CPU than the probe itself
// (0.2 ms of the 0.4 ms a /probe request cost the daemon): they are
// written here in Prometheus' text format, version 0.0.4, which every
// Prometheus reads. They are small enough not to compress.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// desc is a series' name and help.
type desc struct{ name, help string }

type sample struct {
	desc
	labels []string // names and values in turn: phase, version, ...
	v      float64
}

// exposition collects gauges and writes them grouped by name, as the
// format wants, sorted for a stable answer.
type exposition struct{ samples []sample }

// gauge adds a sample; labels are names and values in turn.
func (x *exposition) gauge(d desc, v float64, labels ...string) {
	x.samples = append(x.samples, sample{desc: d, v: v, labels: labels})
}

func (x *exposition) bytes() []byte {
	// Stable: the samples of one series keep their order (phases in the
	// order they happened).
	slices.SortStableFunc(x.samples, func(a, b sample) int { return strings.Compare(a.name, b.name) })
	b := make([]byte, 0, 80*len(x.samples))
	for i, s := range x.samples {
		if i == 0 || x.samples[i-1].name != s.name {
			b = append(b, "# HELP "...)
			b = append(b, s.name...)
			b = append(b, ' ')
			b = appendEscaped(b, s.help, false)
			b = append(b, "\n# TYPE "...)
			b = append(b, s.name...)
			b = append(b, " gauge\n"...)
		}
		b = append(b, s.name...)
		for i := 0; i+1 < len(s.labels); i += 2 {
			if i == 0 {
				b = append(b, '{')
			} else {
				b = append(b, ',')
			}
			b = append(b, s.labels[i]...)
			b = append(b, `="`...)
			b = appendEscaped(b, s.labels[i+1], true)
			b = append(b, '"')
		}
		if len(s.labels) >= 2 {
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = appendValue(b, s.v)
		b = append(b, '\n')
	}
	return b
}

// appendEscaped escapes as the format says: backslash and line feed in
// help, and the double quote too in a label value.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
