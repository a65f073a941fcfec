package threshold

import (
	"errors"
	"math"
	"testing"

	"github.com/lbcheck/lbcheck/internal/exitcode"
)

func TestParseAndAlert(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name   string
		in     string
		want   Range
		alerts []float64
		quiet  []float64
	}{
		{"plain end", "10", Range{0, 10, false}, []float64{-1, 10.01, 11}, []float64{0, 5, 10}},
		{"fraction", "0.5", Range{0, 0.5, false}, []float64{0.51, -0.1}, []float64{0, 0.5}},
		{"open end", "10:", Range{10, inf, false}, []float64{9.99, -5}, []float64{10, 1e9}},
		{"open start", "~:10", Range{-inf, 10, false}, []float64{10.5}, []float64{-1e9, 10}},
		{"both ends", "10:20", Range{10, 20, false}, []float64{9, 21}, []float64{10, 15, 20}},
		{"inside", "@10:20", Range{10, 20, true}, []float64{10, 15, 20}, []float64{9.9, 20.1}},
		{"inside plain", "@0.2", Range{0, 0.2, true}, []float64{0, 0.1}, []float64{0.3, -1}},
		{"empty start", ":10", Range{0, 10, false}, []float64{-1, 11}, []float64{0, 10}},
		{"negative", "-5:-1", Range{-5, -1, false}, []float64{0, -6}, []float64{-5, -3, -1}},
		{"exponent", "1e-3", Range{0, 0.001, false}, []float64{0.002}, []float64{0.0005}},
		{"equal ends", "3:3", Range{3, 3, false}, []float64{2.9, 3.1}, []float64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			for _, v := range tt.alerts {
				if !got.Alert(v) {
					t.Errorf("%q should alert on %v", tt.in, v)
				}
			}
			for _, v := range tt.quiet {
				if got.Alert(v) {
					t.Errorf("%q should not alert on %v", tt.in, v)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "@", ":", "@:", "abc", "10:5", "1:2:3", "~", "inf", "NaN", ":inf",
		"0x10", "1_000", "1e999", "10:~", "--1", "1-", ".", "e5", " 1", "1 ",
	} {
		if r, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want error", in, r)
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSyntax", in, err)
		}
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"10": "10", "0:10": "10", "10:": "10:", "~:10": "~:10", "@10:20": "@10:20",
		"0:": "0:", "0.50": "0.5", ":7": "7", "-1:1": "-1:1", "@~:": "@~:",
		// perfdata readers expect plain decimals, never an exponent
		"0.000001": "0.000001", "1e3": "1000",
	} {
		r, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := r.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestPair(t *testing.T) {
	w, _ := Parse("0.5")
	c, _ := Parse("1")
	p := Pair{Warning: &w, Critical: &c}
	for v, want := range map[float64]exitcode.State{0.1: exitcode.OK, 0.7: exitcode.Warning, 2: exitcode.Critical} {
		if got := p.State(v); got != want {
			t.Errorf("State(%v) = %v, want %v", v, got, want)
		}
	}
	if got := (Pair{}).State(100); got != exitcode.OK {
		t.Errorf("empty pair State = %v", got)
	}
}

// FuzzParse checks that Parse never panics, that whatever it accepts is a
// well-formed range, and that String round-trips to the same range.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10", "10:", "~:10", "10:20", "@10:20", "@~:0", ":5", "1e3:2e3", "-0:0", "0.000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if math.IsNaN(r.Start) || math.IsNaN(r.End) || r.Start > r.End {
			t.Fatalf("Parse(%q) accepted a malformed range %+v", s, r)
		}
		again, err := Parse(r.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, r.String(), err)
		}
		if again != r {
			t.Fatalf("round trip %q -> %q -> %+v, want %+v", s, r.String(), again, r)
		}
	})
}
