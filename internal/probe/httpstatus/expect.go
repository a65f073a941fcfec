package httpstatus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrExpect is wrapped by every --expect parse error.
var ErrExpect = errors.New("invalid status list")

// codeRange is an inclusive range of status codes.
type codeRange struct{ lo, hi int }

// StatusSet is the set of accepted status codes, as -e/--expect gives it:
// codes, ranges and classes separated by commas, e.g. "200", "200-299",
// "2xx", "200,301-302".
type StatusSet []codeRange

// ParseStatusSet reads an --expect list.
func ParseStatusSet(s string) (StatusSet, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrExpect)
	}
	var set StatusSet
	for _, item := range strings.Split(s, ",") {
		r, err := parseItem(item)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v (want codes, ranges or classes: 200, 200-299, 2xx, 200,301-302)", ErrExpect, s, err)
		}
		set = append(set, r)
	}
	return set, nil
}

func parseItem(item string) (codeRange, error) {
	if len(item) == 3 && strings.EqualFold(item[1:], "xx") && item[0] >= '1' && item[0] <= '9' {
		c := int(item[0]-'0') * 100
		return codeRange{c, c + 99}, nil
	}
	lo, hi, isRange := strings.Cut(item, "-")
	a, err := code(lo)
	if err != nil {
		return codeRange{}, err
	}
	if !isRange {
		return codeRange{a, a}, nil
	}
	b, err := code(hi)
	if err != nil {
		return codeRange{}, err
	}
	if a > b {
		return codeRange{}, fmt.Errorf("range %s is backwards", item)
	}
	return codeRange{a, b}, nil
}

// code reads a three-digit status code, 100-999, as HTTP/1.1 defines it.
func code(s string) (int, error) {
	if len(s) != 3 || s[0] < '1' || s[0] > '9' {
		return 0, fmt.Errorf("%q is not a three-digit status code", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 {
		return 0, fmt.Errorf("%q is not a three-digit status code", s)
	}
	return n, nil
}

// Contains reports whether code is accepted.
func (s StatusSet) Contains(code int) bool {
	for _, r := range s {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// String returns the list in a canonical form that ParseStatusSet reads
// back to the same set.
func (s StatusSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		switch {
		case r.lo == r.hi:
			parts[i] = strconv.Itoa(r.lo)
		case r.lo%100 == 0 && r.hi == r.lo+99:
			parts[i] = strconv.Itoa(r.lo/100) + "xx"
		default:
			parts[i] = strconv.Itoa(r.lo) + "-" + strconv.Itoa(r.hi)
		}
	}
	return strings.Join(parts, ",")
}
