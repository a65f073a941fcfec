package httpstatus

import (
	"errors"
	"testing"
)

func TestParseStatusSet(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		accept []int
		reject []int
		canon  string
	}{
		{"single", "200", []int{200}, []int{199, 201, 503}, "200"},
		{"range", "200-299", []int{200, 250, 299}, []int{199, 300}, "2xx"},
		{"class", "2xx", []int{200, 204, 299}, []int{300, 199}, "2xx"},
		{"class upper", "5XX", []int{500, 503}, []int{499, 600}, "5xx"},
		{"list", "200,301-302", []int{200, 301, 302}, []int{201, 300, 303}, "200,301-302"},
		{"monitor-uri down", "503", []int{503}, []int{200}, "503"},
		{"odd range", "201-250", []int{201, 250}, []int{200, 251}, "201-250"},
		{"high code", "999", []int{999}, []int{998}, "999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStatusSet(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.accept {
				if !s.Contains(c) {
					t.Errorf("%q rejects %d", tt.in, c)
				}
			}
			for _, c := range tt.reject {
				if s.Contains(c) {
					t.Errorf("%q accepts %d", tt.in, c)
				}
			}
			if got := s.String(); got != tt.canon {
				t.Errorf("String() = %q, want %q", got, tt.canon)
			}
		})
	}
}

func TestParseStatusSetRejects(t *testing.T) {
	for _, in := range []string{"", ",", "200,", "20", "2000", "099", "abc", "2x", "0xx", "300-200", "200-", "-200", "2xx-3xx", " 200", "200 ", "+20", "1e2", "200--300"} {
		if s, err := ParseStatusSet(in); err == nil {
			t.Errorf("ParseStatusSet(%q) = %v, want error", in, s)
		} else if !errors.Is(err, ErrExpect) {
			t.Errorf("ParseStatusSet(%q): %v does not wrap ErrExpect", in, err)
		}
	}
}

// FuzzParseStatusSet: never panics; whatever parses round-trips through
// String to a set that accepts exactly the same codes.
func FuzzParseStatusSet(f *testing.F) {
	for _, s := range []string{"200", "2xx", "200-299", "200,301-302", "5XX,100", "999-999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseStatusSet(in)
		if err != nil {
			return
		}
		again, err := ParseStatusSet(s.String())
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", in, s.String(), err)
		}
		for c := 0; c <= 1000; c++ {
			if s.Contains(c) != again.Contains(c) {
				t.Fatalf("%q and its canonical %q disagree on %d", in, s.String(), c)
			}
			if (c < 100 || c > 999) && s.Contains(c) {
				t.Fatalf("%q accepts impossible code %d", in, c)
			}
		}
	})
}
