package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestNoCheckNamed: a command line that names no check is one UNKNOWN line
// in the exit style and format asked for (under keepalived's misc_dynamic,
// --exit-style binary, a 3 would read as up); --help and --version answer.
func TestNoCheckNamed(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		code int
		out  string // prefix of stdout
	}{
		{"nothing", nil, 3, "LBCHECK UNKNOWN - bad argument: name the check first: lbcheck CHECK"},
		{"unknown check", []string{"check_nope", "10.0.0.1"}, 3, `LBCHECK UNKNOWN - bad argument: no check named "check_nope": `},
		{"binary exit style", []string{"--exit-style", "binary", "check_nope"}, 1, "LBCHECK UNKNOWN - bad argument: no check named \"--exit-style\""},
		{"json", []string{"--format=json", "nope"}, 3, `{"check":"LBCHECK","state":"UNKNOWN","exit_code":3,`},
		{"help", []string{"--help"}, 0, "Usage: lbcheck CHECK [options] HOST [PORT]\n"},
		{"version", []string{"-V"}, 0, "lbcheck "},
		{"a check's help", []string{"check_ftp_noop", "--help"}, 0, "check_ftp_noop - "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			code := run(context.Background(), append([]string{"/usr/lib/nagios/plugins/lbcheck"}, tt.args...), &out, io.Discard)
			if code != tt.code || !strings.HasPrefix(out.String(), tt.out) || strings.Count(out.String(), "\n") < 1 {
				t.Errorf("exit %d, %q; want %d, %q...", code, out.String(), tt.code, tt.out)
			}
		})
	}
}
