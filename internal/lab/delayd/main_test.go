package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseDelay(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     time.Duration
		bad      bool
	}{
		{"zero", "0s", 0, false},
		{"between -w and -c", "400ms", 400 * time.Millisecond, false},
		{"the bound", "1m", time.Minute, false},
		{"negative", "-1s", 0, true},
		{"past the bound", "61s", 0, true},
		{"no unit", "400", 0, true},
		{"empty", "", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := parseDelay(c.in)
			if c.bad {
				if !errors.Is(err, errDelay) {
					t.Fatalf("parseDelay(%q) = %v, %v; want errDelay", c.in, d, err)
				}
				return
			}
			if err != nil || d != c.want {
				t.Fatalf("parseDelay(%q) = %v, %v; want %v", c.in, d, err, c.want)
			}
		})
	}
}

func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"0s", "400ms", "1m", "-1s", "1h", "1e9h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDelay(s)
		if err == nil && (d < 0 || d > maxDelay) {
			t.Fatalf("parseDelay(%q) = %v, out of bounds", s, d)
		}
	})
}

// The delay set over the control path holds for the answers after it.
func TestDelayMoves(t *testing.T) {
	srv := httptest.NewServer(&server{})
	defer srv.Close()
	get := func(path string) (int, string, time.Duration) {
		t.Helper()
		start := time.Now()
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b), time.Since(start)
	}
	if code, body, took := get("/health"); code != 200 || body != "ok\n" || took > 150*time.Millisecond {
		t.Fatalf("undelayed: %d %q in %v", code, body, took)
	}
	for _, c := range []struct {
		name, set string
		code      int
		min       time.Duration
	}{
		{"slowed", "300ms", 200, 300 * time.Millisecond},
		{"a bad value keeps the delay", "fast", 400, 300 * time.Millisecond},
		{"fast again", "0s", 200, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, took := get("/_lab/delay?set=" + c.set)
			if code != c.code || took > 150*time.Millisecond {
				t.Fatalf("set %s: %d %q in %v; want %d at once", c.set, code, body, took, c.code)
			}
			_, body, took = get("/health")
			if took < c.min || took > c.min+300*time.Millisecond {
				t.Fatalf("after set %s: answered in %v, want about %v", c.set, took, c.min)
			}
			if body != "ok\n" {
				t.Fatalf("after set %s: %q", c.set, body)
			}
		})
	}
	if _, body, _ := get("/_lab/delay"); !strings.HasPrefix(body, "0s ") {
		t.Fatalf("the delay now: %q", body)
	}
}
