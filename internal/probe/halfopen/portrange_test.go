package halfopen

import (
	"strings"
	"testing"
)

func TestParsePortRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want PortRange
		err  string
	}{
		{in: "61000-61255", want: DefaultPorts},
		{in: " 50000 - 50000 ", want: PortRange{50000, 50000}},
		{in: "1024-65535", want: PortRange{1024, 65535}},
		{in: "61000", err: "want FIRST-LAST"},
		{in: "", err: "want FIRST-LAST"},
		{in: "1000-2000", err: "below 1024 need privilege"},
		{in: "61255-61000", err: "61000 is below 61255"},
		{in: "61000-70000", err: "numbers from 1024 to 65535"},
		{in: "a-b", err: "numbers"},
		{in: "-1-5", err: "numbers"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePortRange(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%q: %v, %v; want an error saying %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if back, err := ParsePortRange(got.String()); err != nil || back != got {
				t.Errorf("%v does not read back: %v, %v", got, back, err)
			}
		})
	}
	if DefaultPorts.Len() != 256 {
		t.Errorf("the default range has %d ports, want 256", DefaultPorts.Len())
	}
}

// Whatever the configuration says: no panic, and a range that parses is
// one we can reserve without privilege and print back.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"61000-61255", "1024-65535", "0-1", "65535-1024", "x", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if r.First < 1024 || r.Last < r.First || r.Len() < 1 || r.Len() > 65535-1024+1 {
			t.Fatalf("%q parsed as %v", s, r)
		}
		if back, err := ParsePortRange(r.String()); err != nil || back != r {
			t.Fatalf("%v does not read back: %v, %v", r, back, err)
		}
		for i := range uint32(3) {
			if p := r.port(i * 977); !r.contains(p) {
				t.Fatalf("port %d of %v outside it", p, r)
			}
		}
	})
}
