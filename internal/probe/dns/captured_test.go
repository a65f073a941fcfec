package dns

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// capturedReply is a reply a real server sent, and the question it answers, as
// check_dns_answer's options.
type capturedReply struct {
	label string
	args  []string
	raw   []byte
}

// captured reads testdata/replies.txt: replies of unbound, BIND and Knot
// from the integration set-up (test/integration/netns.sh), one a line,
// "label|options|hex", captured with testdata/capture.
func captured(t testing.TB) []capturedReply {
	t.Helper()
	f, err := os.Open("testdata/replies.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []capturedReply
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 3 {
			t.Fatalf("testdata/replies.txt: %q: want label|options|hex", line)
		}
		raw, err := hex.DecodeString(parts[2])
		if err != nil {
			t.Fatalf("testdata/replies.txt: %s: %v", parts[0], err)
		}
		out = append(out, capturedReply{parts[0], strings.Fields(parts[1]), raw})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("testdata/replies.txt holds no reply")
	}
	return out
}
