package exitcode

import "testing"

func TestWorst(t *testing.T) {
	tests := []struct {
		name string
		in   []State
		want State
	}{
		{"none", nil, OK},
		{"all ok", []State{OK, OK}, OK},
		{"warning beats ok", []State{OK, Warning}, Warning},
		{"critical beats warning", []State{Warning, Critical, OK}, Critical},
		{"warning beats unknown", []State{Unknown, Warning}, Warning},
		{"unknown beats ok", []State{OK, Unknown}, Unknown},
		{"critical beats unknown", []State{Unknown, Critical}, Critical},
		{"out of range reads as unknown", []State{OK, State(42)}, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Worst(tt.in...); got != tt.want {
				t.Errorf("Worst(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		state          State
		nagios, binary int
	}{
		{OK, 0, 0},
		{Warning, 1, 1},
		{Critical, 2, 1},
		{Unknown, 3, 1},
		{State(-1), 3, 1},
	}
	for _, tt := range tests {
		if got := Nagios.Code(tt.state); got != tt.nagios {
			t.Errorf("Nagios.Code(%v) = %d, want %d", tt.state, got, tt.nagios)
		}
		if got := Binary.Code(tt.state); got != tt.binary {
			t.Errorf("Binary.Code(%v) = %d, want %d", tt.state, got, tt.binary)
		}
	}
}

// TestBinaryUnderMiscDynamic spells out why the binary style exists:
// keepalived's misc_dynamic treats exit codes 2..255 as "up with weight
// code-2", so only 0 may ever mean up.
func TestBinaryUnderMiscDynamic(t *testing.T) {
	up := func(code int) bool { return code == 0 || code >= 2 }
	for _, s := range []State{Warning, Critical, Unknown} {
		if up(Binary.Code(s)) {
			t.Errorf("misc_dynamic reads binary %v (exit %d) as up", s, Binary.Code(s))
		}
	}
	if !up(Binary.Code(OK)) {
		t.Error("misc_dynamic reads binary OK as down")
	}
	if !up(Nagios.Code(Critical)) {
		t.Error("expected the nagios style to be misread as up: the test premise is wrong")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]State{"ok": OK, "WARNING": Warning, "Critical": Critical, "unknown": Unknown} {
		got, err := ParseState(in)
		if err != nil || got != want {
			t.Errorf("ParseState(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != names[want] {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	if _, err := ParseState("down"); err == nil {
		t.Error("ParseState(down) accepted")
	}
	for in, want := range map[string]Style{"nagios": Nagios, "BINARY": Binary} {
		got, err := ParseStyle(in)
		if err != nil || got != want {
			t.Errorf("ParseStyle(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseStyle("keepalived"); err == nil {
		t.Error("ParseStyle(keepalived) accepted")
	}
}
