package daemon

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// URLTarget reads a target written as a URL, as blackbox_exporter's http
// prober takes it (target=https://host:8443/health?x=1), into req: HOST
// and PORT become the target, and the scheme, the path and query and the
// Host header become the options they stand for, appended to the module's
// command line and parsed by the check's own parser. A target without
// "://" is left as it is. The error is one line.
func URLTarget(req *Request) error {
	if !strings.Contains(req.Target, "://") {
		return nil
	}
	u, err := url.Parse(req.Target)
	if err != nil {
		return refuse(BadTarget, "target %s: not a URL: %v", strconv.Quote(clip(req.Target)), unwrapURL(err))
	}
	var tls string
	port := u.Port()
	switch strings.ToLower(u.Scheme) {
	case "http":
		tls = "--tls=false"
		if port == "" {
			port = "80"
		}
	case "https":
		tls = "--tls=true"
		if port == "" {
			port = "443"
		}
	default:
		return refuse(BadTarget, "target %s: scheme %s: want http or https", strconv.Quote(clip(req.Target)), strconv.Quote(clip(u.Scheme)))
	}
	switch {
	case u.Hostname() == "":
		return refuse(BadTarget, "target %s: the URL names no host", strconv.Quote(clip(req.Target)))
	case u.User != nil:
		return refuse(BadTarget, "target %s: credentials in a URL are not sent: use the module's --header", strconv.Quote(clip(req.Target)))
	case u.Opaque != "":
		return refuse(BadTarget, "target %s: want scheme://host[:port][/path]", strconv.Quote(clip(req.Target)))
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	req.Target = net.JoinHostPort(u.Hostname(), port)
	req.Port = ""
	// blackbox sends the URL's host[:port] as written as the Host header,
	// and its host as SNI: --vhost says both.
	req.Options = []string{tls, "--path", path, "--vhost", u.Host}
	return nil
}

// unwrapURL keeps url.Error's reason without the quoted URL it repeats.
func unwrapURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// maxDerived bounds the commands a module keeps for URL targets: a
// scrape configuration names a handful of paths, not a new one each time.
const maxDerived = 256

// derived is a module's command with options a request added (a URL
// target's), parsed by the check's own parser once and kept: --tls reads
// CA and client-certificate files when it is parsed.
type derived struct {
	mu   sync.Mutex
	mods map[string]*Module
}

// with is mod with opts appended to its command line, or the one line
// the check's parser says is wrong with that. Only check_http_status
// modules take a URL; a module's own --vhost wins over the URL's host, as
// a Host header in blackbox's module does.
func (c *Config) with(mod *Module, opts []string) (*Module, error) {
	if c.parse == nil {
		return nil, refuse(BadTarget, "module %s takes no URL target here", mod.Name)
	}
	if mod.Cmd.Spec.Command != "check_http_status" {
		return nil, refuse(BadTarget, "module %s runs %s: a URL target needs a check_http_status module", mod.Name, mod.Cmd.Spec.Command)
	}
	if slices.ContainsFunc(mod.Argv, func(a string) bool { return a == "--vhost" || strings.HasPrefix(a, "--vhost=") }) {
		opts = opts[:len(opts)-2]
	}
	key := strings.Join(opts, "\x00")
	d := &mod.derived
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.mods[key]; ok {
		return m, nil
	}
	argv := append(slices.Clip(mod.Argv), opts...)
	cmd, err := c.parse(argv)
	if err != nil {
		return nil, refuse(BadTarget, "module %s with the URL's %s: %s", mod.Name, strings.Join(opts, " "), oneLine(err.Error()))
	}
	cmd.Resolver = allowResolver{c}
	m := &Module{Name: mod.Name, Argv: argv, Cmd: cmd}
	if d.mods == nil {
		d.mods = map[string]*Module{}
	}
	if len(d.mods) < maxDerived {
		d.mods[key] = m
	}
	return m, nil
}
