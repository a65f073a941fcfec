package daemon

import (
	"github.com/lbcheck/lbcheck/internal/check"
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

// derived is a module's command for https URLs: its command line with
// --tls=true, parsed by the check's own parser once, when a URL first asks
// for it. An http URL takes the module's own. A URL's path and host are
// set on a copy of the options per request: a command parsed per URL
// would read its CA and client-certificate files and hold its own CA pool
// each time.
type derived struct {
	mu    sync.Mutex
	https *Module
}

// urlOptions are the options of a check that takes a URL target
// (check_http_status): ForURL is a copy of them with TLS as the URL's
// scheme says, the URL's path for --path and its host for --vhost (unless
// the command line gave one), checked as those options' own parser checks
// them; nothing is read again. https needs options parsed with --tls.
type urlOptions interface {
	ForURL(https bool, path, host string) (check.Options, error)
}

// with is mod as a URL target (req.Options, URLTarget's [--tls=B --path
// P --vhost H]) asks for it, or the one line saying what is wrong with
// that. Only check_http_status modules take a URL; a module's own
// --vhost wins over the URL's host, as a Host header in blackbox's module
// does. An http URL leaves the module's TLS options (--verify, --ca-file,
// --client-cert) unused, as blackbox ignores a module's tls_config for
// one: one module for every scheme is the usual relabelling. key tells
// requests for the same module and URL apart.
func (c *Config) with(mod *Module, opts []string) (m *Module, key string, err error) {
	if c.parse == nil {
		return nil, "", refuse(BadTarget, "module %s takes no URL target here", mod.Name)
	}
	if mod.Cmd.Spec.Command != "check_http_status" {
		return nil, "", refuse(BadTarget, "module %s runs %s: a URL target needs a check_http_status module", mod.Name, mod.Cmd.Spec.Command)
	}
	if len(opts) != 5 || opts[1] != "--path" || opts[3] != "--vhost" {
		return nil, "", refuse(BadTarget, "module %s: options %s: not a URL target's", mod.Name, strconv.Quote(clip(strings.Join(opts, " "))))
	}
	https := opts[0] == "--tls=true"
	base, argv := mod, append(slices.Clip(mod.Argv), opts[0])
	if https {
		if base, err = c.https(mod); err != nil {
			return nil, "", err
		}
		argv = slices.Clip(base.Argv)
	}
	uo, ok := base.Cmd.Options.(urlOptions)
	if !ok {
		return nil, "", refuse(BadTarget, "module %s runs %s: a URL target needs a check_http_status module", mod.Name, mod.Cmd.Spec.Command)
	}
	path, host := opts[2], opts[4]
	o, err := uo.ForURL(https, path, host)
	if err != nil {
		// The error quotes what is wrong: the URL's own bytes are not
		// repeated, they may hold a line break.
		return nil, "", refuse(BadTarget, "module %s with the URL: %s", mod.Name, oneLine(err.Error()))
	}
	cmd := *base.Cmd
	cmd.Options = o
	argv = append(argv, "--path", path)
	if !slices.ContainsFunc(mod.Argv, isVHost) {
		argv = append(argv, "--vhost", host)
	}
	return &Module{Name: mod.Name, Argv: argv, Cmd: &cmd}, opts[0] + "\x00" + path + "\x00" + host, nil
}

func isVHost(a string) bool { return a == "--vhost" || strings.HasPrefix(a, "--vhost=") }

// https is mod's command for https URLs, parsed the first time one asks.
func (c *Config) https(mod *Module) (*Module, error) {
	d := &mod.derived
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.https != nil {
		return d.https, nil
	}
	argv := append(slices.Clip(mod.Argv), "--tls=true")
	cmd, err := c.parse(argv)
	if err != nil {
		return nil, refuse(BadTarget, "module %s with the URL's --tls=true: %s", mod.Name, oneLine(err.Error()))
	}
	cmd.Resolver = allowResolver{c}
	d.https = &Module{Name: mod.Name, Argv: argv, Cmd: cmd}
	return d.https, nil
}
