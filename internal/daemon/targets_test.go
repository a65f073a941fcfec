package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTargetsFile: the bad files are bounded and said in one line;
// the good lines are watched, listed (never idle).
func TestTargetsFile(t *testing.T) {
	dir := t.TempDir()
	million := filepath.Join(dir, "million")
	var b strings.Builder
	for i := range 1_000_000 {
		fmt.Fprintf(&b, "10.%d.%d.%d:80\n", i>>16, (i>>8)&255, i&255)
	}
	os.WriteFile(million, []byte(b.String()), 0o644)
	tests := []struct {
		name, text string // text "" for a missing file
		file       string
		targets    int
		note       string // "" for none
	}{
		{"good", "# web servers\n10.0.0.5:80\n\n  10.0.0.6:81  \n[fd00::5]:80\n", "", 3, ""},
		{"junk", "10.0.0.5:80\nnot a target at all\n10.0.0.6:x\n" + strings.Repeat("y", 2000) + "\n10.0.0.7\n", "", 2, "2 targets; 3 junk lines skipped (line 2: "},
		{"duplicates", "10.0.0.5:80\n10.0.0.5:80\n10.0.0.5\n10.0.0.9:80\n", "", 2, "2 targets; 2 duplicates skipped"},
		{"outside allow", "10.0.0.5:80\n192.0.2.1:80\n", "", 1, "1 targets; 1 targets outside allow skipped"},
		{"a million lines", "", million, 1000, "1000 targets; 999000 targets past max_watches 1000 skipped"},
		{"missing", "", filepath.Join(dir, "nope"), 0, "missing: no targets from it until it appears"},
		{"no newline at end", "10.0.0.5:80", "", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.file
			if path == "" {
				path = filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
				os.WriteFile(path, []byte(tt.text), 0o644)
			}
			c, err := Parse([]byte(fmt.Sprintf("allow: [10.0.0.0/8, \"fd00::/8\"]\nmax_watches: 1000\nmodules:\n  web: {check: [check_http_status, -t, \"1\"], every: 2s, targets_file: %q}\n", path)), registry())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			notes := c.ReadTargetsFiles()
			took := time.Since(start)
			w := c.Modules["web"].Watch
			if len(w.fileTargets) != tt.targets {
				t.Errorf("%d targets, want %d", len(w.fileTargets), tt.targets)
			}
			switch {
			case tt.note == "" && len(notes) != 0:
				t.Errorf("notes %q, want none", notes)
			case tt.note != "" && (len(notes) != 1 || !strings.Contains(notes[0], tt.note) || strings.ContainsAny(notes[0], "\r\n") || len(notes[0]) > 300):
				t.Errorf("notes %q, want one short line containing %q", notes, tt.note)
			case tt.note != "" && !strings.HasPrefix(notes[0], "module web: targets_file "+path+": "):
				t.Errorf("note %q does not name the module and file", notes[0])
			}
			if took > 5*time.Second {
				t.Errorf("reading took %v", took)
			}
		})
	}
}

// TestTargetsFileWatched: a targets file's targets are watched from the
// start, never idle, and a change to the file is applied.
func TestTargetsFileWatched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.targets")
	os.WriteFile(path, []byte("192.0.2.5:1\n192.0.2.6:1\n"), 0o644)
	b := newBackend()
	c := mustConfig(t, b.registry(), fmt.Sprintf("allow: [192.0.2.0/24]\nmodules:\n  w: {check: [check_fake, -t, \"1\"], every: 10s, idle: 10s, targets_file: %q}\n", path))
	c.ReadTargetsFiles()
	clock := newClock()
	d := watchDaemon(t, b.registry(), "allow: [192.0.2.0/24]\nmodules: {x: [check_fake]}\n", clock)
	d.filesKick = make(chan struct{}, 1)
	d.targetsPoll = 20 * time.Millisecond
	d.Swap(c)
	if d.watches.count.Load() != 2 {
		t.Fatalf("%d watches from the file, want 2", d.watches.count.Load())
	}
	for range 3 { // past idle: listed targets stay
		d.watches.due(clock.add(10 * time.Second))
		settle(t, d)
	}
	if d.watches.count.Load() != 2 || b.calls.Load() < 2 {
		t.Fatalf("%d watches, %d probes after idle", d.watches.count.Load(), b.calls.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logged := make(chan string, 10)
	go d.WatchTargetsFiles(ctx, func(s string) { logged <- s })
	os.WriteFile(path+".new", []byte("192.0.2.7:1\nnot a target\n"), 0o644)
	os.Rename(path+".new", path)
	waitFor(t, "the new file's target", func() bool { return d.watches.lookup(watchKey{"w", "192.0.2.7", 1}) != nil })
	select {
	case n := <-logged:
		if !strings.Contains(n, "1 junk lines skipped") {
			t.Errorf("logged %q", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("the junk line was not logged")
	}
	// The targets no longer listed are ordinary watches now: they end
	// when idle.
	for range 3 {
		d.watches.due(clock.add(10 * time.Second))
		settle(t, d)
	}
	if d.watches.lookup(watchKey{"w", "192.0.2.5", 1}) != nil || d.watches.count.Load() != 1 {
		t.Errorf("%d watches; an unlisted, unasked target is still watched", d.watches.count.Load())
	}
}

func FuzzTargetsFile(f *testing.F) {
	f.Add([]byte("10.0.0.5:80\n# c\n\n[fd00::5]:80\nnot one\n10.0.0.5\n"))
	f.Add([]byte(strings.Repeat("x", 600) + "\n10.0.0.1:1"))
	c, err := Parse([]byte("allow: [10.0.0.0/8, \"fd00::/8\"]\nmax_watches: 5\nmodules:\n  web: {check: [check_http_status, -t, \"1\"], every: 2s, targets: [10.0.0.9:80], targets_file: /x}\n"), registry())
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "targets")
	f.Fuzz(func(t *testing.T, b []byte) {
		os.WriteFile(path, b, 0o644)
		w := *c.Modules["web"].Watch
		tgs, _, note := readTargetsFile(path, c.Modules["web"].Cmd, c, &w, 4)
		if len(tgs) > 4 || strings.ContainsAny(note, "\r\n") {
			t.Errorf("%d targets, note %q", len(tgs), note)
		}
		seen := map[string]bool{}
		for _, tg := range tgs {
			k := tg.Host + " " + fmt.Sprint(tg.Port)
			if tg.Port == 0 || seen[k] || (tg.IP.IsValid() && !c.Allowed(tg.IP)) || (tg.Host == "10.0.0.9" && tg.Port == 80) {
				t.Errorf("target %+v: no port, twice, outside allow or listed already", tg)
			}
			seen[k] = true
		}
	})
}

// Every target of a targets_file is listed (watched from the start, never
// idle), whatever order the file gives them in, and nothing else is.
func TestTargetsFileListed(t *testing.T) {
	var lines []string
	for i := 255; i > 0; i-- { // descending: the file's order is not the lookup's
		lines = append(lines, fmt.Sprintf("10.0.%d.%d:%d", i%7, i, 80+i%3), fmt.Sprintf("[fd00::%x]:443", i))
	}
	lines = append(lines, "10.0.0.1:81", "10.0.0.1:80") // one address, two ports
	path := filepath.Join(t.TempDir(), "targets")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(fmt.Sprintf("allow: [10.0.0.0/8, \"fd00::/8\"]\nmax_watches: 1000\nmodules:\n  web: {check: [check_http_status, -t, \"1\"], every: 2s, targets_file: %q}\n", path)), registry())
	if err != nil {
		t.Fatal(err)
	}
	if notes := c.ReadTargetsFiles(); len(notes) != 0 {
		t.Fatalf("notes: %q", notes)
	}
	w := c.Modules["web"].Watch
	for _, l := range lines {
		tg, err := parseWatchTarget(l, c.Modules["web"].Cmd)
		if err != nil {
			t.Fatal(err)
		}
		if !w.listed(tg) {
			t.Errorf("%s is in the file but not listed", l)
		}
	}
	for _, l := range []string{"10.0.0.1:82", "10.0.9.9:80", "[fd00::1]:80", "[fd00::1ff]:443"} {
		tg, err := parseWatchTarget(l, c.Modules["web"].Cmd)
		if err != nil {
			t.Fatal(err)
		}
		if w.listed(tg) {
			t.Errorf("%s is listed but not in the file", l)
		}
	}
}
