package main

import (
	"strings"
	"testing"
)

func TestParseTargets(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
		err        string
	}{
		{"lines, comments, blanks", "10.97.0.1:9000\n# a comment\n\n  10.97.0.2:9000  \n", []string{"10.97.0.1:9000", "10.97.0.2:9000"}, ""},
		{"no newline at the end", "10.97.255.255:1", []string{"10.97.255.255:1"}, ""},
		{"IPv6 refused", "[::1]:9000\n", nil, "line 1: want IPv4:PORT"},
		{"a name refused", "10.97.0.1:9000\nweb1:80\n", nil, `line 2: want IPv4:PORT, got "web1:80"`},
		{"no port", "10.97.0.1\n", nil, "line 1"},
		{"port 0", "10.97.0.1:00\n", nil, "line 1"},
		{"only comments", "# nothing\n", nil, "no targets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseTargets(c.text)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, ap := range got {
				s = append(s, ap.String())
			}
			if strings.Join(s, " ") != strings.Join(c.want, " ") {
				t.Errorf("got %v, want %v", s, c.want)
			}
		})
	}
}

// FuzzParseTargets: any text is either refused or gives an IPv4 target
// with a port for each line that is neither blank nor a comment.
func FuzzParseTargets(f *testing.F) {
	f.Add("10.97.0.1:9000\n# c\n\n10.97.0.2:9000")
	f.Add("[::1]:1\n")
	f.Add("1.2.3.4:65535\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		list, err := parseTargets(text)
		if err != nil {
			if list != nil {
				t.Fatalf("targets %v with error %v", list, err)
			}
			return
		}
		n := 0
		for _, l := range strings.Split(text, "\n") {
			if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
				n++
			}
		}
		if len(list) != n {
			t.Fatalf("%d targets from %d lines of %q", len(list), n, text)
		}
		for _, ap := range list {
			if !ap.Addr().Is4() || ap.Port() == 0 {
				t.Fatalf("target %v from %q: want IPv4 and a port", ap, text)
			}
		}
	})
}
