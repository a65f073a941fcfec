// Command lbcheckd runs the suite's five checks in one resident process,
// for Prometheus (/probe, blackbox_exporter's conventions) and for load
// balancers (/check for HAProxy http-check and keepalived HTTP_GET;
// HAProxy's agent-check protocol), with no process per check.
//
//	lbcheckd --config /etc/lbcheck/lbcheckd.yml
//
// A module is a check binary's command line without HOST and PORT, parsed
// by the check's own code. SIGHUP reloads the configuration (a bad one is
// refused and the old kept); SIGTERM stops accepting, lets the probes in
// flight end within their deadlines, and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/lbcheck/lbcheck/internal/checks"
	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/daemon/conncap"
	"github.com/lbcheck/lbcheck/internal/daemon/debugfront"
	"github.com/lbcheck/lbcheck/internal/daemon/lbfront"
	"github.com/lbcheck/lbcheck/internal/daemon/probefront"
	"github.com/lbcheck/lbcheck/internal/daemon/procs"
	"github.com/lbcheck/lbcheck/internal/daemon/rawconn"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/lbcheck/lbcheck/internal/version"
)

// DefaultConfig is where the packages put the configuration.
const DefaultConfig = "/etc/lbcheck/lbcheckd.yml"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil)) }

// run is the daemon's life; ready, if not nil, gets the listeners'
// addresses once they accept (for tests).
func run(args []string, stdout, stderr io.Writer, ready func(httpAddr, agentAddr string)) int {
	fs := flag.NewFlagSet("lbcheckd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", DefaultConfig, "configuration `FILE` (YAML)")
	checkOnly := fs.Bool("check-config", false, "check the configuration, print a summary and exit")
	offset := fs.Duration("timeout-offset", probefront.DefaultOffset, "taken off Prometheus' scrape timeout for the probe's deadline")
	logLevel := fs.String("log-level", "info", "`LEVEL`: debug, info, warn, error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "lbcheckd "+version.Version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbcheckd: unexpected argument %q (see lbcheckd -help)\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "lbcheckd: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// Half-open modules share one raw socket per address family, opened
	// now, while the process may; every capability is dropped once the
	// configuration's marks are prepared. Without the privilege the
	// daemon still runs: half-open probes are then UNKNOWN, could not
	// check.
	var hmux *halfopen.Mux
	ports := daemon.SourcePortsOf(*configPath)
	if !*checkOnly {
		var err error
		if hmux, err = halfopen.OpenMuxPorts(ports); err != nil {
			if hmux != nil {
				hmux.Close()
				hmux = nil
			}
			if muxFatal(err, ports) {
				fmt.Fprintf(stderr, "lbcheckd: %s: halfopen_source_ports %s: %s\n", *configPath, ports, oneLine(err.Error()))
				return 1
			}
			logger.Warn("half-open modules cannot probe: "+oneLine(err.Error()), "fix", "run lbcheckd with CAP_NET_RAW (the packaged unit grants it) or as root")
		} else if miss := hmux.Missing(); miss != nil {
			logger.Warn("half-open probes to one address family cannot run: " + oneLine(miss.Error()))
		}
		if hmux != nil {
			// On every way out, a refused configuration's too: the
			// reserved source ports are the host's again.
			defer hmux.Close()
		}
	}
	reg := checks.New(hmux.Spec())

	cfg, err := daemon.Load(*configPath, reg)
	if err == nil && cfg.SourcePorts != ports {
		// The file changed between the two reads: the modules were
		// checked against a range the sockets did not reserve.
		err = fmt.Errorf("%s: halfopen_source_ports changed while lbcheckd started: start it again", *configPath)
	}
	if err == nil && hmux != nil {
		err = prepareHalfOpen(hmux, cfg)
	}
	if err == nil && cfg.WebConfigFile != "" {
		if werr := web.Validate(cfg.WebConfigFile); werr != nil {
			err = fmt.Errorf("%s: web_config_file %s: %s", *configPath, cfg.WebConfigFile, oneLine(werr.Error()))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbcheckd: %s\n", oneLine(err.Error()))
		return 1
	}
	notes := cfg.ReadTargetsFiles()
	if *checkOnly {
		for _, n := range notes {
			fmt.Fprintf(stderr, "lbcheckd: %s: %s\n", *configPath, oneLine(n))
		}
		fmt.Fprintf(stdout, "%s: OK: %d modules, listen %s, agent_listen %q, %d networks allowed\n",
			*configPath, len(cfg.Modules), cfg.Listen, cfg.AgentListen, len(cfg.Allow))
		return 0
	}
	if hmux != nil {
		if err := halfopen.DropCaps(); err != nil {
			logger.Warn("capabilities kept: " + oneLine(err.Error()))
		}
	}

	var d *daemon.Daemon
	metrics := daemon.NewMetrics(func() float64 { return float64(d.InFlight()) })
	if hmux != nil {
		metrics.HalfOpen(hmux.Stats)
	}
	for _, n := range notes {
		logger.Warn(oneLine(n))
	}
	opts := []daemon.Option{daemon.WithLogger(logger)}
	if hmux != nil {
		// Watched half-open modules of literal targets are swept: their
		// SYNs leave in batches, a tick at a time (see README).
		opts = append(opts, daemon.WithSweeper(hmux))
	}
	d = daemon.New(context.Background(), cfg, metrics, opts...)
	// As many Ps as the load keeps busy (see internal/daemon/procs): an
	// idle daemon on every core pays a thread's wake-up per event.
	procsCtx, stopProcs := context.WithCancel(context.Background())
	defer stopProcs()
	if why := procs.Fixed(); why != "" {
		logger.Info("GOMAXPROCS fixed: " + why)
	} else {
		go procs.Run(procsCtx, procs.DefaultInterval, func(from, to int) {
			logger.Debug("GOMAXPROCS changed", "from", from, "to", to)
		})
	}
	filesCtx, stopFiles := context.WithCancel(context.Background())
	defer stopFiles()
	go d.WatchTargetsFiles(filesCtx, func(s string) { logger.Warn(oneLine(s)) })

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "lbcheckd: listen %s: %v\n", cfg.Listen, err)
		return 1
	}
	// Connections, like probes, are bounded: each holds a goroutine and
	// its buffers. At the cap a new connection sheds the oldest one not
	// being answered (see conncap): slow and silent clients cannot keep a
	// load balancer's ask waiting in the kernel's accept queue.
	maxConns := connCap(cfg.MaxInFlight, logger)
	httpCap := conncap.New(maxConns)
	httpCap.OnDrop = metrics.DropFunc("http")
	ln = httpCap.Listener(rawconn.Listener(ln))
	mux := http.NewServeMux()
	dbg := debugfront.New(d) // before serving: it remembers every probe
	mux.Handle("/probe", dbg.Wrap("/probe", probefront.Handler(d, *offset)))
	mux.Handle("/check", dbg.Wrap("/check", lbfront.CheckHandler(d)))
	mux.Handle("GET /watches", probefront.WatchesHandler(d))
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	dbg.Register(mux)
	srv := &http.Server{
		Handler: bounded(mux, d),
		// An HTTP checker (HAProxy, keepalived, Prometheus) sends its
		// request at once: a request that takes longer is a slow client's.
		// An ask has no body, so the whole request is bound the same way:
		// a body announced and never sent holds nothing longer.
		ReadHeaderTimeout: headerWait,
		ReadTimeout:       headerWait,
		ConnState:         conncap.ConnState,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	webCfg := cfg.WebConfigFile
	noSocket := false
	flags := &web.FlagConfig{WebConfigFile: &webCfg, WebSystemdSocket: &noSocket, WebListenAddresses: &[]string{cfg.Listen}}

	var agent *lbfront.Agent
	var agentLn net.Listener
	if cfg.AgentListen != "" {
		if agentLn, err = net.Listen("tcp", cfg.AgentListen); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "lbcheckd: agent_listen %s: %v\n", cfg.AgentListen, err)
			return 1
		}
		agentLn = rawconn.Listener(agentLn)
		agent = &lbfront.Agent{D: d, MaxConns: maxConns, Log: logger}
	}

	var wg sync.WaitGroup
	serveErr := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := web.Serve(ln, srv, flags, logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
	}()
	agentAddr := ""
	if agent != nil {
		agentAddr = agentLn.Addr().String()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := agent.Serve(agentLn); err != nil {
				serveErr <- fmt.Errorf("agent_listen %s: %w", cfg.AgentListen, err)
			}
		}()
	}
	started := []any{"version", version.Version, "listen", ln.Addr().String(), "agent_listen", agentAddr,
		"modules", len(cfg.Modules), "max_in_flight", cfg.MaxInFlight}
	if hmux != nil {
		// What to tell a firewall: replies to these ports are the probes'.
		started = append(started, "halfopen_source_ports", hmux.Ports().String())
	}
	logger.Info("lbcheckd started", started...)
	if ready != nil {
		ready(ln.Addr().String(), agentAddr)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	code := 0
loop:
	for {
		select {
		case err := <-serveErr:
			logger.Error("serving stopped", "err", err)
			code = 1
			break loop
		case s := <-sigs:
			if s == syscall.SIGHUP {
				reload(d, *configPath, reg, hmux, logger)
				continue
			}
			logger.Info("stopping: probes in flight end within their deadlines", "signal", s.String(), "in_flight", d.InFlight())
			break loop
		}
	}

	// Watches end at once (their probes are cancelled, asks waiting on
	// them get no verdict); then stop accepting: the requests being
	// answered end with their probes, each within its deadline.
	d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), longestDeadline(d.Config())+time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("stopping: requests still open", "err", err)
		code = 1
	}
	if agent != nil {
		if err := agent.Shutdown(ctx); err != nil {
			logger.Warn("stopping: agent connections still open", "err", err)
			code = 1
		}
	}
	wg.Wait()
	logger.Info("stopped")
	return code
}

// headerWait bounds the time an HTTP request's header may take (and a TLS
// handshake's, under web_config_file).
const headerWait = 2 * time.Second

// writeWait is what writing an answer may take once its probe is done.
const writeWait = 2 * time.Second

// bounded keeps a connection that is being answered from being held for
// ever, which the connection cap cannot shed. Once an answer starts, it
// must be written within writeWait (a client that asks and never reads,
// pipelining asks into a full window, is cut off); before, the longest
// probe deadline and writeWait bound the whole. A request that came with a
// body is answered and closed at once, never kept alive while net/http
// reads and discards a body that may never come (an ask has none:
// RequestFromHTTP refuses it).
func bounded(next http.Handler, d *daemon.Daemon) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.SetWriteDeadline(time.Now().Add(longestDeadline(d.Config()) + writeWait))
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			// No ask reads a body; a read deadline already passed keeps
			// net/http from reading it after the answer, and the closed
			// connection frees its place.
			w.Header().Set("Connection", "close")
			rc.SetReadDeadline(time.Now())
		}
		next.ServeHTTP(&writeBound{ResponseWriter: w, rc: rc}, r)
	})
}

// writeBound sets the connection's write deadline to writeWait from the
// answer's first byte.
type writeBound struct {
	http.ResponseWriter
	rc    *http.ResponseController
	armed bool
}

func (w *writeBound) arm() {
	if !w.armed {
		w.armed = true
		w.rc.SetWriteDeadline(time.Now().Add(writeWait))
	}
}

func (w *writeBound) WriteHeader(code int) { w.arm(); w.ResponseWriter.WriteHeader(code) }

func (w *writeBound) Write(b []byte) (int, error) { w.arm(); return w.ResponseWriter.Write(b) }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *writeBound) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// connCap is each front's connection cap: twice max_in_flight and some,
// but within the file descriptors the process may open (both fronts'
// connections, and a socket or two per probe), so that accept never fails
// with EMFILE (net/http then pauses accepting, up to a second).
func connCap(maxInFlight int, logger *slog.Logger) int {
	n := 2*maxInFlight + 64
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 1<<30 {
		room := (int(lim.Cur) - 2*maxInFlight - 64) / 2
		if room < n {
			logger.Warn("connection cap lowered to fit the open-file limit: raise LimitNOFILE (ulimit -n)",
				"cap", max(room, 16), "wanted", n, "nofile", lim.Cur)
			n = max(room, 16)
		}
	}
	return n
}

// reload puts the file's configuration in force, or keeps the one in force
// and says why.
func reload(d *daemon.Daemon, path string, reg checks.Registry, hmux *halfopen.Mux, logger *slog.Logger) {
	old := d.Config()
	cfg, err := daemon.Load(path, reg)
	if err == nil && hmux != nil {
		// A mark not opened at start cannot be now: capabilities are gone.
		err = prepareHalfOpen(hmux, cfg)
	}
	if err == nil {
		// Refused whole, the old configuration kept, as for listen: the
		// new file's modules were checked against a range not in force,
		// and the failed reload's metric (ExporterReloadFailed) tells the
		// operator a restart is due.
		err = cfg.NeedsRestart(old)
	}
	if err != nil {
		d.Metrics.ReloadFailed()
		logger.Error("reload refused, the configuration in force is kept: " + oneLine(err.Error()))
		return
	}
	for _, n := range cfg.ReadTargetsFiles() {
		logger.Warn(oneLine(n))
	}
	d.Swap(cfg)
	logger.Info("configuration reloaded", "modules", len(cfg.Modules), "max_in_flight", cfg.MaxInFlight, "in_flight", d.InFlight())
}

// muxFatal says whether the half-open sockets' failure to open stops the
// start: a range the configuration names that cannot be reserved is the
// operator's to fix now (as a bad value is), where a daemon without
// CAP_NET_RAW runs on and its half-open probes are UNKNOWN. The default
// range moves to a free block by itself.
func muxFatal(err error, ports halfopen.PortRange) bool {
	return ports != (halfopen.PortRange{}) && !errors.Is(err, halfopen.ErrNoPrivilege)
}

// prepareHalfOpen opens what the half-open modules' socket options need
// (a mark's sockets) while the process still may.
func prepareHalfOpen(m *halfopen.Mux, cfg *daemon.Config) error {
	for _, name := range sortedKeys(cfg.Modules) {
		if cmd := cfg.Modules[name].Cmd; cmd.Spec.Command == halfopen.Spec.Command {
			if err := m.Prepare(cmd.Socket); err != nil {
				return fmt.Errorf("module %s: %w", name, err)
			}
		}
	}
	return nil
}

func longestDeadline(cfg *daemon.Config) time.Duration {
	var longest time.Duration
	for _, m := range cfg.Modules {
		longest = max(longest, m.Cmd.Deadline)
	}
	return longest
}

func sortedKeys(m map[string]*daemon.Module) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
