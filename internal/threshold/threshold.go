// Package threshold parses and applies Nagios plugin ranges, the syntax of
// -w/--warning and -c/--critical.
//
// A range is "[@]start:end" where either side may be left out: "10" is 0:10,
// "10:" is 10 to infinity, "~:10" is minus infinity to 10. A value outside
// the range raises the alert; with a leading "@" a value inside it does.
// Both ends are inclusive, as in the Nagios plugin development guidelines.
package threshold

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// Range is a parsed Nagios range. The zero value is the range 0:0.
type Range struct {
	Start, End float64 // -Inf and +Inf stand for an open end
	Inside     bool    // "@": alert when the value lies inside
}

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid range")

// Parse reads a range such as "0.5", "~:0.5", "10:" or "@0.1:0.2".
func Parse(s string) (Range, error) {
	fail := func(why string) (Range, error) {
		return Range{}, fmt.Errorf("%w %q: %s (want [@]start:end, e.g. 0.5, 10:, ~:0.5, @0.1:0.2)", ErrSyntax, s, why)
	}
	var r Range
	body := s
	if strings.HasPrefix(body, "@") {
		r.Inside = true
		body = body[1:]
	}
	if body == "" {
		return fail("empty")
	}
	startText, endText, hasColon := strings.Cut(body, ":")
	if !hasColon {
		startText, endText = "0", body
	} else if startText == "" && endText == "" {
		return fail("no bounds")
	}
	switch startText {
	case "~":
		r.Start = math.Inf(-1)
	case "":
		r.Start = 0 // ":10" means 0:10, as monitoring-plugins read it
	default:
		v, ok := Number(startText)
		if !ok {
			return fail("start is not a number")
		}
		r.Start = v
	}
	if endText == "" {
		if !hasColon {
			return fail("empty")
		}
		r.End = math.Inf(1)
	} else {
		v, ok := Number(endText)
		if !ok {
			return fail("end is not a number")
		}
		r.End = v
	}
	if r.Start > r.End {
		return fail("start is greater than end")
	}
	return r, nil
}

// Number reads a plain decimal number, as Nagios plugins take thresholds
// and timeouts: strconv alone would also take "inf", "nan", hex floats and
// underscores, none of which belong on a plugin's command line.
func Number(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	digits := 0
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == 'e' || c == 'E':
		case (c == '-' || c == '+') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'):
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// Alert reports whether v raises the alert this range describes.
func (r Range) Alert(v float64) bool {
	in := v >= r.Start && v <= r.End
	return in == r.Inside
}

// String returns the range in canonical Nagios syntax; Parse reads it back
// to the same Range.
func (r Range) String() string {
	var b strings.Builder
	if r.Inside {
		b.WriteByte('@')
	}
	switch {
	case math.IsInf(r.Start, -1):
		b.WriteString("~:")
	case r.Start != 0:
		b.WriteString(format(r.Start))
		b.WriteByte(':')
	case math.IsInf(r.End, 1):
		b.WriteString("0:")
	}
	if !math.IsInf(r.End, 1) {
		b.WriteString(format(r.End))
	}
	return b.String()
}

// format writes plain decimals: perfdata parsers and our own Number read no
// exponent ("1e-06").
func format(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Pair is the warning and critical thresholds of one metric; either may be nil.
type Pair struct {
	Warning, Critical *Range
}

// State is the state v earns: CRITICAL if the critical range alerts, else
// WARNING if the warning range does, else OK.
func (p Pair) State(v float64) exitcode.State {
	switch {
	case p.Critical != nil && p.Critical.Alert(v):
		return exitcode.Critical
	case p.Warning != nil && p.Warning.Alert(v):
		return exitcode.Warning
	}
	return exitcode.OK
}
