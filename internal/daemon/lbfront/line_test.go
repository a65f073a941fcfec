package lbfront

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseLine: a line is refused, or it is two or three words of
// printable ASCII that, joined by one space, give the line back.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"m 192.0.2.5 1", "m 192.0.2.5:1", "m  h 1", "m\th 1", " m h", "m h 1 2", "m h\r1", "\u00a0m h 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		req, err := ParseLine(line)
		if err != nil {
			if !errors.Is(err, ErrBadLine) {
				t.Fatalf("%q: %v", line, err)
			}
			return
		}
		words := []string{req.Module, req.Target}
		if req.Port != "" {
			words = append(words, req.Port)
		}
		if strings.Join(words, " ") != line {
			t.Fatalf("%q read as %+v", line, req)
		}
		for _, w := range words {
			if w == "" || strings.IndexFunc(w, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
				t.Fatalf("%q: word %q", line, w)
			}
		}
	})
}
