package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
)

// Defaults for the keys a config may leave out.
const (
	DefaultListen      = "127.0.0.1:9707"
	DefaultMaxInFlight = 1024
	// maxConfigBytes bounds what is read of the file: a config is a few
	// hundred lines at most.
	maxConfigBytes = 4 << 20
)

// File is the configuration file as written. Unknown keys are refused,
// so a misspelt key cannot silently fall back to a default.
type File struct {
	// Listen is where /probe, /check and /metrics are served.
	Listen string `yaml:"listen"`
	// AgentListen is where HAProxy's agent-check protocol is served; empty
	// for none.
	AgentListen string `yaml:"agent_listen"`
	// Allow are the networks probes may reach: an address outside them,
	// or a name that resolves outside them, is refused.
	Allow []string `yaml:"allow"`
	// Modules map a module's name to a check's command line without HOST
	// and PORT (a list), or to the map form that also keeps watch.
	Modules map[string]ModuleEntry `yaml:"modules"`
	// MaxWatches caps the watches of all modules; a new one past it is
	// refused as overload.
	MaxWatches int `yaml:"max_watches"`
	// MaxInFlight caps the probes running at once; more are refused.
	MaxInFlight int `yaml:"max_in_flight"`
	// WebConfigFile is exporter-toolkit's web configuration (TLS and
	// basic auth on Listen), read when the daemon starts.
	WebConfigFile string `yaml:"web_config_file"`
	// HalfOpenSourcePorts is the range of source ports the half-open
	// sockets reserve, "FIRST-LAST"; empty for halfopen's default.
	HalfOpenSourcePorts string `yaml:"halfopen_source_ports"`
}

// Config is a checked configuration, its modules parsed and ready to run.
type Config struct {
	File
	Allow   []netip.Prefix
	Modules map[string]*Module
	// SourcePorts is HalfOpenSourcePorts parsed; zero for the default.
	SourcePorts halfopen.PortRange
	// parse is the checks' parser the modules went through, for the
	// commands URL targets derive from them.
	parse func(argv []string) (*check.Command, error)
}

// Module is a named check command line, shared by every request that
// names it: its Command's options are read-only once parsed.
type Module struct {
	Name string
	Argv []string
	Cmd  *check.Command
	// Watch, when the module says every, is how it keeps watch; nil
	// for a probe per ask.
	Watch *WatchSpec
	// derived are this module's commands for URL targets.
	derived derived
}

// moduleName is what a module may be called: a metric label value and a
// word of the agent protocol.
var moduleName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Load reads and checks the configuration file. The error is one line.
func Load(path string, reg checks.Registry) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(&limitedReader{f, maxConfigBytes + 1}); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if buf.Len() > maxConfigBytes {
		return nil, fmt.Errorf("%s: more than %d MiB", path, maxConfigBytes>>20)
	}
	c, err := Parse(buf.Bytes(), reg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("file too large")
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.f.Read(b)
	l.n -= int64(n)
	return n, err
}

// Parse checks a configuration and parses its modules with the checks'
// own parsers. The error is one line of at most a KiB or so.
func Parse(text []byte, reg checks.Registry) (*Config, error) {
	c, err := parse(text, reg)
	if err != nil {
		return nil, bounded(err)
	}
	return c, nil
}

// Bounds of a configuration error: it is logged on every refused reload
// and printed on start, so a file of 20,000 bad keys must not make it a
// megabyte (yaml joins every problem it finds).
const (
	maxProblems   = 3   // named; the rest are counted
	maxProblemLen = 200 // bytes of one problem
	maxErrorLen   = 1 << 10
)

// bounded is err in at most maxErrorLen bytes on one line, naming the
// first maxProblems of yaml's problems and how many more there are.
func bounded(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		n := min(len(te.Errors), maxProblems)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = clipTo(oneLine(te.Errors[i]), maxProblemLen)
		}
		msg := strings.Join(parts, "; ")
		if more := len(te.Errors) - n; more > 0 {
			msg += fmt.Sprintf("; and %d more", more)
		}
		return errors.New(msg)
	}
	return errors.New(clipTo(oneLine(err.Error()), maxErrorLen))
}

func parse(text []byte, reg checks.Registry) (*Config, error) {
	var f File
	if err := yaml.UnmarshalStrict(text, &f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, errors.New(oneLine(err.Error()))
	}
	c := &Config{File: f, Modules: map[string]*Module{}, parse: reg.Module}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if err := checkListen("listen", c.Listen); err != nil {
		return nil, err
	}
	if c.AgentListen != "" {
		if err := checkListen("agent_listen", c.AgentListen); err != nil {
			return nil, err
		}
		if c.AgentListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
			return nil, fmt.Errorf("agent_listen %s: the same address as listen", c.AgentListen)
		}
	}
	switch {
	case c.MaxInFlight == 0:
		c.MaxInFlight = DefaultMaxInFlight
	case c.MaxInFlight < 1 || c.MaxInFlight > 1<<20:
		return nil, fmt.Errorf("max_in_flight %d: want 1 to %d", c.MaxInFlight, 1<<20)
	}
	switch {
	case c.MaxWatches == 0:
		c.MaxWatches = DefaultMaxWatches
	case c.MaxWatches < 1 || c.MaxWatches > maxMaxWatches:
		return nil, fmt.Errorf("max_watches %d: want 1 to %d", c.MaxWatches, maxMaxWatches)
	}
	if f.HalfOpenSourcePorts != "" {
		r, err := halfopen.ParsePortRange(f.HalfOpenSourcePorts)
		if err != nil {
			return nil, fmt.Errorf("halfopen_source_ports %s: %s", strconv.Quote(clip(f.HalfOpenSourcePorts)), oneLine(err.Error()))
		}
		c.SourcePorts = r
	}
	if f.Allow == nil {
		return nil, errors.New(`allow: missing: list the networks probes may reach, e.g. allow: [10.0.0.0/8] ("0.0.0.0/0" and "::/0" allow any)`)
	}
	for _, a := range f.Allow {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, err
		}
		c.Allow = append(c.Allow, p)
	}
	if len(f.Modules) == 0 {
		return nil, errors.New("modules: none: name at least one, e.g. http_health: [check_http_status, -u, /health]")
	}
	names := make([]string, 0, len(f.Modules))
	for name := range f.Modules {
		names = append(names, name)
	}
	slices.Sort(names) // the first bad module is the same on every run
	for _, name := range names {
		if !moduleName.MatchString(name) {
			return nil, fmt.Errorf("module %q: a name is 1 to 64 letters, digits, '_', '-' or '.'", name)
		}
		e := f.Modules[name]
		if e.mapForm && e.Check == nil {
			return nil, fmt.Errorf("module %s: check: missing: the check's command line, e.g. check: [check_http_status, -u, /health]", name)
		}
		cmd, err := reg.Module(e.Check)
		if err != nil {
			return nil, fmt.Errorf("module %s: %s", name, oneLine(err.Error()))
		}
		cmd.Resolver = allowResolver{c} // a name resolves only to what allow lets through
		m := &Module{Name: name, Argv: e.Check, Cmd: cmd}
		if m.Watch, err = e.watchSpec(cmd); err != nil {
			return nil, fmt.Errorf("module %s: %s", name, oneLine(err.Error()))
		}
		if err := c.checkPortReuse(m); err != nil {
			return nil, fmt.Errorf("module %s: %w", name, err)
		}
		c.Modules[name] = m
	}
	if err := c.checkStaticTargets(names); err != nil {
		return nil, err
	}
	return c, nil
}

// NeedsRestart says which change from old, the configuration in force,
// a reload cannot apply (one line), or nil: the listeners, their TLS, and
// the half-open source ports, which the sockets opened at start reserve
// while privileged.
func (c *Config) NeedsRestart(old *Config) error {
	switch {
	case c.Listen != old.Listen:
		return fmt.Errorf("listen %s: changing it needs a restart (in force: %s)", c.Listen, old.Listen)
	case c.AgentListen != old.AgentListen:
		return fmt.Errorf("agent_listen %q: changing it needs a restart (in force: %q)", c.AgentListen, old.AgentListen)
	case c.WebConfigFile != old.WebConfigFile:
		return fmt.Errorf("web_config_file %q: changing it needs a restart (in force: %q)", c.WebConfigFile, old.WebConfigFile)
	case c.SourcePorts != old.SourcePorts:
		return fmt.Errorf("halfopen_source_ports %s: changing it needs a restart, which reserves the new ports while privileged (in force: %s)",
			portsText(c.SourcePorts), portsText(old.SourcePorts))
	}
	return nil
}

func portsText(r halfopen.PortRange) string {
	if r == (halfopen.PortRange{}) {
		return "the default"
	}
	return r.String()
}

// SourcePortsOf reads only halfopen_source_ports from the file at path,
// for opening the half-open sockets before the modules are parsed (they
// are parsed with those sockets' check). A file it cannot read gives the
// zero range (the default): Load then says what is wrong.
func SourcePortsOf(path string) halfopen.PortRange {
	f, err := os.Open(path)
	if err != nil {
		return halfopen.PortRange{}
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(&limitedReader{f, maxConfigBytes}); err != nil {
		return halfopen.PortRange{}
	}
	var only struct {
		Ports string `yaml:"halfopen_source_ports"`
	}
	if yaml.Unmarshal(buf.Bytes(), &only) != nil || only.Ports == "" {
		return halfopen.PortRange{}
	}
	r, err := halfopen.ParsePortRange(only.Ports)
	if err != nil {
		return halfopen.PortRange{}
	}
	return r
}

// portReuse is how long a half-open target must not get a SYN from a
// source port it got one from before: a lost RST leaves the server a
// half-made connection on that 4-tuple (SYN-RECV, retried for about 63 s
// by Linux' default tcp_synack_retries of 5, then some), which answers the
// next SYN with a bare ACK instead of SYN+ACK or RST.
const portReuse = 75 * time.Second

// checkPortReuse refuses a watched half-open module whose targets would
// reuse a source port within portReuse: each probe of a target takes the
// next port of the range, so it comes back to one every × the range's
// length.
func (c *Config) checkPortReuse(m *Module) error {
	if m.Watch == nil || m.Cmd.Spec.Command != halfopen.Spec.Command {
		return nil
	}
	r, which := c.SourcePorts, "halfopen_source_ports "+c.SourcePorts.String()
	if r == (halfopen.PortRange{}) {
		r, which = halfopen.DefaultPorts, "the default halfopen_source_ports"
	}
	n := r.Len()
	every := m.Watch.Every
	if every*time.Duration(n) >= portReuse {
		return nil
	}
	ports := int((portReuse + every - 1) / every)
	need := (portReuse + time.Duration(n) - 1) / time.Duration(n)
	need = (need + time.Millisecond - 1).Truncate(time.Millisecond)
	return fmt.Errorf("every %s with %d source ports (%s): a target would get a SYN from the same port every %s, under %s: a lost RST leaves the server a half-made connection that answers our next SYN from that port with a bare ACK; give halfopen_source_ports at least %d ports or raise every to %s",
		every, n, which, every*time.Duration(n), portReuse, ports, need)
}

func checkListen(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("%s %q: want HOST:PORT, e.g. 127.0.0.1:9707", key, addr)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && host != "localhost" {
			return fmt.Errorf("%s %q: the host must be an IP address", key, addr)
		}
	}
	return nil
}

// parsePrefix reads a network (10.0.0.0/8) or one address (10.0.0.5).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("allow %q: not a network such as 10.0.0.0/8 or fd00::/8", s)
		}
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("allow %q: host bits set; did you mean %s?", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allow %q: not an address or a network such as 10.0.0.0/8", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Allowed reports whether probes may reach a.
func (c *Config) Allowed(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range c.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// oneLine joins a multi-line message (yaml's list of errors) into one.
func oneLine(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return strings.Join(fields, "; ")
}
