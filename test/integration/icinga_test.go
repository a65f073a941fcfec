//go:build integration

package integration

// Icinga 2 from Debian (icinga2-bin) runs the shipped
// packaging/icinga2/lbcheck.conf live, distributed as its users run it: a
// master in a namespace of its own (lbc-icm) and a satellite zone in
// lbc-cli, the only namespace that reaches the lab's servers in lbc-srv.
// The master syncs lbcheck.conf (zones.d/global-templates) and a host with
// a healthy and a broken service per CheckCommand (zones.d/satellite) to the
// satellite, which runs them; two more services of the master's zone run on
// the satellite through command_endpoint. The test reads state, output,
// perfdata and the command line of every result on the master, through its
// REST API.
//
// The host sets variables of some commands only (its half-open host check's
// port, the HTTP check's port, thresholds and timeout, the FTP check's
// attempts): one that leaked to another command shows in that command's
// output, perfdata or command line. A service whose check_timeout is
// shorter than its lbcheck timeout must still get the plugin's own verdict,
// not Icinga's "<Timeout exceeded.>".

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	icingaRecipe = "icinga2/lbcheck.conf"

	// The master's namespace, joined to lbc-cli by a veth pair and to
	// nothing else: it has no route to lbc-srv.
	nsIcingaMaster = "lbc-icm"
	icMasterVeth   = "lbc-icm0" // in lbc-icm
	icSatVeth      = "lbc-icm1" // in lbc-cli
	icMasterAddr   = "10.98.0.1"
	icSatAddr      = "10.98.0.2"
	icingaAPIPort  = "5665"
	icingaAPIUser  = "lbcheck"
	icingaAPIPass  = "lbcheck-integration"

	// Bounds of the waits. Generous, for a loaded 2-core machine: Icinga
	// loads its configuration up to three times on the satellite (start,
	// validation of the synced stage, restart).
	icingaStartLimit  = 60 * time.Second
	icingaSyncLimit   = 120 * time.Second
	icingaResultLimit = 90 * time.Second
)

// icingaWant is one object of the test's configuration and what the
// master's API must say of its last check result.
type icingaWant struct {
	name     string // host name, or host!service
	state    int    // 0 OK/UP, 2 CRITICAL
	output   string // must match
	notOut   string // must not match (empty: no such rule)
	perf     string // the perfdata, joined by spaces, must match
	port     string // the -p argument on the command line, "" for none
	deadline string // the -t argument on the command line
}

func icingaWants() []icingaWant {
	const (
		// no thresholds, and -t 4 (the host's lbcheck_timeout) as maximum
		shared = `^time=[0-9.]+s;;;0;4$`
		// the HTTP check's own thresholds and timeout, set on the host
		http = `^time=[0-9.]+s;1;2;0;3 size=[0-9]+B;;;0$`
		// a failed check that no attempt was repeated for
		once = `\(attempt `
	)
	return []icingaWant{
		{name: "backend", state: 0, port: "80", deadline: "2",
			output: `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on 10\.99\.0\.2:80, [0-9.]+ ms after the SYN$`, perf: `^time=[0-9.]+s;;;0;2$`},
		{name: "backend!half-open ok", state: 0, port: "80", deadline: "4",
			output: `^TCP_HALF_OPEN OK - port open \(SYN\+ACK\) on 10\.99\.0\.2:80, `, perf: shared},
		{name: "backend!half-open broken", state: 2, port: "84", deadline: "4",
			output: `^TCP_HALF_OPEN CRITICAL - port closed \(RST\) on 10\.99\.0\.2:84, `, notOut: once, perf: shared},
		{name: "backend!ssl hello ok", state: 0, port: "", deadline: "4",
			output: `^SSL_HELLO OK - TLSv1\.[23] .*from 10\.99\.0\.2:443 .*CN=www\.lab\.test`, perf: `^time=[0-9.]+s;;;0;4 days_left=[0-9.]+;2:;1:$`},
		{name: "backend!ssl hello broken", state: 2, port: "80", deadline: "4",
			output: `^SSL_HELLO CRITICAL - .*10\.99\.0\.2:80`, notOut: once, perf: `^(time=[0-9.]+s;;;0;4)?$`},
		{name: "backend!ssl hello silent", state: 2, port: "85", deadline: "8",
			output: `^SSL_HELLO CRITICAL - .*timed out after `, notOut: `Timeout exceeded|\(attempt `, perf: `^$`},
		{name: "backend!dns ok", state: 0, port: "", deadline: "4",
			output: `^DNS OK - NOERROR, 1 answer \(A 10\.99\.0\.2\) from 10\.99\.0\.2:53/udp `, perf: shared},
		{name: "backend!dns broken", state: 2, port: "", deadline: "4",
			output: `^DNS CRITICAL - .*10\.99\.0\.9`, notOut: once, perf: shared},
		{name: "backend!ftp ok", state: 0, port: "", deadline: "4",
			output: `^FTP_NOOP OK - .*from 10\.99\.0\.2:21 `, perf: shared},
		{name: "backend!ftp broken", state: 2, port: "84", deadline: "4",
			output: `^FTP_NOOP CRITICAL - connect to 10\.99\.0\.2:84: connection refused \(attempt 2 of 2\)$`, perf: shared},
		{name: "backend!http ok", state: 0, port: "8080", deadline: "3",
			output: `^HTTP_STATUS OK - 200 OK from 10\.99\.0\.2:8080, `, perf: http},
		{name: "backend!http broken", state: 2, port: "80", deadline: "3",
			output: `^HTTP_STATUS CRITICAL - 503 .*from 10\.99\.0\.2:80, .*expected 2xx$`, notOut: once, perf: `^time=[0-9.]+s;1;2;0;3 size=`},
		// the master's zone, run on the satellite through command_endpoint
		{name: "backend-ce!http via command_endpoint", state: 0, port: "", deadline: "5",
			output: `^HTTP_STATUS OK - 200 OK from 10\.99\.0\.2:80, `, perf: `^time=[0-9.]+s;;;0;5 size=`},
		{name: "backend-ce!ssl hello silent via command_endpoint", state: 2, port: "85", deadline: "8",
			output: `^SSL_HELLO CRITICAL - .*timed out after `, notOut: `Timeout exceeded`, perf: `^$`},
	}
}

// The satellite's zone: one host whose own check is half-open on port 80,
// and a healthy and a broken service per CheckCommand.
const icingaSatelliteObjects = `// generated by test/integration/icinga_test.go
template Host "lbcheck-test-host" {
	max_check_attempts = 1
	check_interval = 20s
	retry_interval = 20s
	enable_flapping = false
}

template Service "lbcheck-test-service" {
	max_check_attempts = 1
	check_interval = 20s
	retry_interval = 20s
	enable_flapping = false
}

object Host "backend" {
	import "lbcheck-test-host"
	address = "10.99.0.2"
	address6 = "fd00:99::2"
	check_command = "lbcheck_tcp_half_open"
	// The host check's own limit: its -t follows it, its services' do not.
	check_timeout = 3s
	// Each of these is for one command only: none may reach another.
	vars.lbcheck_tcp_half_open_port = 80
	vars.lbcheck_http_status_port = 8080
	vars.lbcheck_http_status_warning = 1
	vars.lbcheck_http_status_critical = 2
	vars.lbcheck_http_status_timeout = 3
	vars.lbcheck_ftp_noop_attempts = 2
	vars.lbcheck_ftp_noop_retry_delay = 0.1
	// shared: the deadline of every command without its own
	vars.lbcheck_timeout = 4
}

object Service "half-open ok" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_tcp_half_open"
}

object Service "half-open broken" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_tcp_half_open"
	vars.lbcheck_tcp_half_open_port = 84
}

object Service "ssl hello ok" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_ssl_hello"
	vars.lbcheck_ssl_hello_cn = "www.lab.test"
	vars.lbcheck_ssl_hello_cert_days = "2,1"
}

object Service "ssl hello broken" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_ssl_hello"
	vars.lbcheck_ssl_hello_port = 80
}

// Icinga would end this check after 10 s: the plugin must answer first,
// whatever deadline its variable asks for.
object Service "ssl hello silent" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_ssl_hello"
	check_timeout = 10s
	vars.lbcheck_ssl_hello_port = 85
	vars.lbcheck_ssl_hello_timeout = 30
}

object Service "dns ok" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_dns_answer"
	vars.lbcheck_dns_answer_name = "www.lab.test"
	vars.lbcheck_dns_answer_expect = [ "10.99.0.2" ]
}

// every --expect value must be in the answer: one of the two is not
object Service "dns broken" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_dns_answer"
	vars.lbcheck_dns_answer_name = "www.lab.test"
	vars.lbcheck_dns_answer_expect = [ "10.99.0.2", "10.99.0.9" ]
}

object Service "ftp ok" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_ftp_noop"
}

object Service "ftp broken" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_ftp_noop"
	vars.lbcheck_ftp_noop_port = 84
}

// HAProxy's monitor-uri, on the host's HTTP port
object Service "http ok" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_http_status"
	vars.lbcheck_http_status_path = "/haproxy-health"
}

object Service "http broken" {
	import "lbcheck-test-service"
	host_name = "backend"
	check_command = "lbcheck_http_status"
	vars.lbcheck_http_status_port = 80
	vars.lbcheck_http_status_vhost = "www.lab.test"
	vars.lbcheck_http_status_path = "/down"
}
`

// The master's zone: checks the master schedules and the satellite runs.
const icingaMasterObjects = `// generated by test/integration/icinga_test.go
object Host "backend-ce" {
	address = "10.99.0.2"
	check_command = "dummy"
	max_check_attempts = 1
	check_interval = 20s
	vars.dummy_state = 0
	vars.dummy_text = "checked through its services"
}

object Service "http via command_endpoint" {
	host_name = "backend-ce"
	check_command = "lbcheck_http_status"
	command_endpoint = "satellite"
	max_check_attempts = 1
	check_interval = 20s
	retry_interval = 20s
	enable_flapping = false
}

object Service "ssl hello silent via command_endpoint" {
	host_name = "backend-ce"
	check_command = "lbcheck_ssl_hello"
	command_endpoint = "satellite"
	check_timeout = 10s
	max_check_attempts = 1
	check_interval = 20s
	retry_interval = 20s
	enable_flapping = false
	vars.lbcheck_ssl_hello_port = 85
	vars.lbcheck_ssl_hello_timeout = 30
}
`

// icingaNode is one Icinga 2 instance of the test: its directories, the
// process, and an API client that dials from its namespace.
type icingaNode struct {
	name, ns, addr string
	dir            string
	cmd            *exec.Cmd
	done           chan struct{}
	log            *os.File
	api            *http.Client
}

// TestIcinga runs a master and a satellite with the shipped definitions and
// reads every check's result on the master.
func TestIcinga(t *testing.T) {
	icinga2, err := exec.LookPath("icinga2")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/icinga2"); serr != nil {
			t.Fatalf("icinga2 not installed (Debian icinga2-bin): %v", err)
		}
		icinga2 = "/usr/sbin/icinga2"
	}
	// Debian's icinga2 runs as nagios; its directories must be its own.
	runAs, err := user.Lookup("nagios")
	if err != nil {
		t.Fatalf("no nagios user (Debian icinga2-common creates it): %v", err)
	}
	group, err := user.LookupGroupId(runAs.Gid)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(runAs.Uid)
	gid, _ := strconv.Atoi(runAs.Gid)
	plugins := pluginDir(t)
	recipe := packagingFile(t, icingaRecipe)

	icingaNamespace(t)
	// The satellite is the only way to the targets.
	if c, err := nsDial(context.Background(), nsIcingaMaster, "tcp", net.JoinHostPort(srv4, "80")); err == nil {
		c.Close()
		t.Fatalf("the master's namespace reaches %s:80: the test would not show that the satellite ran the checks", srv4)
	}

	base := filepath.Join(stateDir, "icinga")
	os.RemoveAll(base)
	pool := icingaCerts(t, base, []string{"master", "satellite"})

	master := &icingaNode{name: "master", ns: nsIcingaMaster, addr: icMasterAddr, dir: filepath.Join(base, "master")}
	satellite := &icingaNode{name: "satellite", ns: nsClient, addr: icSatAddr, dir: filepath.Join(base, "satellite")}
	zones := fmt.Sprintf(`object Endpoint "master" { host = "%s" }
object Endpoint "satellite" { }
object Zone "master" { endpoints = [ "master" ] }
object Zone "satellite" { endpoints = [ "satellite" ]; parent = "master" }
object Zone "global-templates" { global = true }
`, icMasterAddr)
	for _, n := range []*icingaNode{master, satellite} {
		files := map[string]string{
			"etc/icinga2.conf": fmt.Sprintf(`// generated by test/integration/icinga_test.go
const PluginDir = %q
const NodeName = %q
const ZoneName = %q
include <itl>
include <plugins>
%s
object ApiListener "api" {
	bind_host = %q
	bind_port = %s
	accept_config = %t
	accept_commands = %t
}
object ApiUser %q {
	password = %q
	permissions = [ "*" ]
}
object CheckerComponent "checker" { }
object IcingaApplication "app" {
	enable_notifications = false
	enable_event_handlers = false
	enable_flapping = false
	enable_perfdata = false
}
`, plugins, n.name, n.name, zones, n.addr, icingaAPIPort, n == satellite, n == satellite, icingaAPIUser, icingaAPIPass),
		}
		if n == master {
			lbcheckConf, err := os.ReadFile(recipe)
			if err != nil {
				t.Fatal(err)
			}
			// as shipped, for the master to sync to every node
			files["zones.d/global-templates/lbcheck.conf"] = string(lbcheckConf)
			files["zones.d/satellite/backend.conf"] = icingaSatelliteObjects
			files["zones.d/master/backend-ce.conf"] = icingaMasterObjects
		}
		n.setup(t, files, uid, gid, pool)
	}

	begin := time.Now()
	master.start(t, icinga2, runAs.Username, group.Name)
	master.waitAPI(t)
	t.Logf("master's API up after %v", time.Since(begin).Round(100*time.Millisecond))
	satellite.start(t, icinga2, runAs.Username, group.Name)
	defer func() {
		if t.Failed() {
			for _, n := range []*icingaNode{master, satellite} {
				t.Logf("%s: the end of %s:\n%s", n.name, n.log.Name(), tail(n.log.Name(), 40))
			}
		}
	}()

	// The satellite restarts once the master's configuration reaches it,
	// and a command_endpoint check sent during that restart is not sent
	// again for the command's timeout + 30 s: wait until the synced
	// configuration runs there and the new process is connected.
	wants := icingaWants()
	satServices := 0
	for _, w := range wants {
		if strings.HasPrefix(w.name, "backend!") {
			satServices++
		}
	}
	icingaWaitSynced(t, master, satellite, satServices)
	t.Logf("configuration synced to the satellite and running there after %v", time.Since(begin).Round(100*time.Millisecond))

	// Fresh results: every check now, rather than at its interval. Each
	// on the node that schedules it: a satellite ignores a new next check
	// time from its parent during its first 60 s (Icinga 2.13), so the
	// master could not reschedule the satellite's checks yet.
	since := time.Now()
	reschedule := func(missing []string) {
		for _, name := range missing {
			if strings.HasPrefix(name, "backend-ce!") {
				master.reschedule(t, `host.name == "backend-ce"`)
				break
			}
		}
		for _, name := range missing {
			if name == "backend" || strings.HasPrefix(name, "backend!") {
				satellite.reschedule(t, "true")
				break
			}
		}
	}
	reschedule([]string{"backend", "backend-ce!"})
	got := icingaWaitResults(t, master, wants, since, reschedule)
	t.Logf("results on the master, %v after the reschedule:", time.Since(since).Round(100*time.Millisecond))
	for _, w := range wants {
		r := got[w.name]
		t.Logf("  %s (+%.1f s): %s | %s", w.name, r.ExecutionStart-float64(since.UnixNano())/1e9, strings.TrimSpace(r.Output), r.perfdata())
	}
	for _, w := range wants {
		t.Run(w.name, func(t *testing.T) {
			r := got[w.name]
			// Icinga keeps the space between the text and the '|' of perfdata
			r.Output = strings.TrimSpace(r.Output)
			if r.State != float64(w.state) {
				t.Errorf("state %v, want %d", r.State, w.state)
			}
			if r.Source != "satellite" {
				t.Errorf("check_source %q, want satellite: the endpoint that ran it", r.Source)
			}
			if !regexp.MustCompile(w.output).MatchString(r.Output) {
				t.Errorf("output does not match %q", w.output)
			}
			if w.notOut != "" && regexp.MustCompile(w.notOut).MatchString(r.Output) {
				t.Errorf("output matches %q, which it must not", w.notOut)
			}
			if perf := r.perfdata(); !regexp.MustCompile(w.perf).MatchString(perf) {
				t.Errorf("perfdata %q does not match %q", perf, w.perf)
			}
			if p := r.arg("-p"); p != w.port {
				t.Errorf("command line passes -p %q, want %q", p, w.port)
			}
			if d := r.arg("-t"); d != w.deadline {
				t.Errorf("command line passes -t %q, want %q", d, w.deadline)
			}
			if t.Failed() {
				t.Logf("last check result on the master:\n  state=%v exit_status=%v check_source=%s\n  command=%s\n  output=%s\n  perfdata=%s",
					r.State, r.ExitStatus, r.Source, shellJoin(r.command()), r.Output, r.perfdata())
			}
		})
	}
}

// icingaNamespace makes lbc-icm and its veth pair to lbc-cli, and removes
// them when the test ends.
func icingaNamespace(t *testing.T) {
	t.Helper()
	exec.Command("ip", "netns", "del", nsIcingaMaster).Run() // a leftover of a killed run
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", nsIcingaMaster).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", nsIcingaMaster, err, out)
		}
	})
	for _, args := range [][]string{
		{"netns", "add", nsIcingaMaster},
		{"-n", nsIcingaMaster, "link", "set", "lo", "up"},
		{"-n", nsClient, "link", "add", icSatVeth, "type", "veth", "peer", "name", icMasterVeth, "netns", nsIcingaMaster},
		{"-n", nsIcingaMaster, "addr", "add", icMasterAddr + "/24", "dev", icMasterVeth},
		{"-n", nsClient, "addr", "add", icSatAddr + "/24", "dev", icSatVeth},
		{"-n", nsIcingaMaster, "link", "set", icMasterVeth, "up"},
		{"-n", nsClient, "link", "set", icSatVeth, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

// icingaCerts makes a CA and a certificate per node (CN and SAN the node's
// name, as Icinga wants) under base/certs, and returns the CA for the API
// clients.
func icingaCerts(t *testing.T, base string, nodes []string) *x509.CertPool {
	t.Helper()
	dir := filepath.Join(base, "certs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lbcheck integration CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER)
	for i, n := range nodes {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n}, DNSNames: []string{n},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, n+".crt"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(dir, n+".key"), "PRIVATE KEY", keyDER)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// icingaDirs are the directories Icinga writes to, each set on the command
// line (-D LocalStateDir is deprecated).
var icingaDirs = []string{"DataDir", "LogDir", "CacheDir", "SpoolDir", "InitRunDir", "ZonesDir"}

func icingaDirName(d string) string { return strings.ToLower(strings.TrimSuffix(d, "Dir")) }

// setup writes the node's files, its certificate into DataDir/certs, and
// gives everything to the user Icinga runs as.
func (n *icingaNode) setup(t *testing.T, files map[string]string, uid, gid int, pool *x509.CertPool) {
	t.Helper()
	for _, d := range append([]string{"etc"}, icingaDirs...) {
		if err := os.MkdirAll(filepath.Join(n.dir, icingaDirName(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	certs := filepath.Join(n.dir, "data", "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(filepath.Dir(n.dir), "certs")
	for _, f := range []string{"ca.crt", n.name + ".crt", n.name + ".key"} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certs, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		path := filepath.Join(n.dir, name)
		if strings.HasPrefix(name, "zones.d/") {
			path = filepath.Join(n.dir, "zones", strings.TrimPrefix(name, "zones.d/"))
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.Walk(n.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	n.api = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return nsDial(ctx, n.ns, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: n.name},
			DisableKeepAlives: true,
		},
	}
}

// start runs `icinga2 daemon` in the node's namespace, in the foreground;
// it stops when the test ends.
func (n *icingaNode) start(t *testing.T, icinga2, runAsUser, runAsGroup string) {
	t.Helper()
	args := []string{"netns", "exec", n.ns, icinga2, "daemon", "-c", filepath.Join(n.dir, "etc", "icinga2.conf"),
		"-DRunAsUser=" + runAsUser, "-DRunAsGroup=" + runAsGroup}
	for _, d := range icingaDirs {
		args = append(args, "-D"+d+"="+filepath.Join(n.dir, icingaDirName(d)))
	}
	f, err := os.Create(filepath.Join(n.dir, "log", "icinga2.out"))
	if err != nil {
		t.Fatal(err)
	}
	n.log = f
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start icinga2 (%s): %v", n.name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { n.stop(t) })
}

// stop ends icinga2: SIGTERM to the umbrella process, which passes it to its
// worker (a session of its own since a reload); whatever of the tree is
// left after 20 s is killed.
func (n *icingaNode) stop(t *testing.T) {
	t.Helper()
	defer n.log.Close()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		return
	case <-time.After(20 * time.Second):
	}
	t.Errorf("icinga2 (%s) still running 20 s after SIGTERM: killing it\n%s", n.name, tail(n.log.Name(), 30))
	for _, pid := range descendants(n.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	n.cmd.Process.Kill()
	<-n.done
}

// descendants are the processes below pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		_, rest, _ := strings.Cut(string(stat), ") ")
		if f := strings.Fields(rest); len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	below := map[int]bool{pid: true}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if below[pp] && !below[p] {
				below[p] = true
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}

// reschedule runs the checks of the hosts and services that filter selects
// on the node now.
func (n *icingaNode) reschedule(t *testing.T, filter string) {
	t.Helper()
	for _, typ := range []string{"Host", "Service"} {
		var out struct {
			Results []struct {
				Code   float64 `json:"code"`
				Status string  `json:"status"`
			} `json:"results"`
		}
		if err := n.call(http.MethodPost, "/v1/actions/reschedule-check",
			map[string]any{"type": typ, "filter": filter, "force": true}, &out); err != nil {
			t.Fatalf("reschedule-check %s on the %s: %v", typ, n.name, err)
		}
		if len(out.Results) == 0 {
			t.Fatalf("reschedule-check %s on the %s: nothing matches %s", typ, n.name, filter)
		}
		for _, r := range out.Results {
			if r.Code != 200 {
				t.Fatalf("reschedule-check %s on the %s: %v %s", typ, n.name, r.Code, r.Status)
			}
		}
	}
}

// exited fails the test if the node's icinga2 has ended.
func (n *icingaNode) exited(t *testing.T) {
	t.Helper()
	select {
	case <-n.done:
		t.Fatalf("icinga2 (%s) exited: %v\n%s", n.name, n.cmd.ProcessState, tail(n.log.Name(), 60))
	default:
	}
}

// waitAPI waits until the node's API answers.
func (n *icingaNode) waitAPI(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(icingaStartLimit)
	var err error
	for time.Now().Before(deadline) {
		n.exited(t)
		if err = n.call(http.MethodGet, "/v1/status/ApiListener", nil, nil); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("icinga2 (%s): no API on %s:%s after %v: %v\n%s", n.name, n.addr, icingaAPIPort, icingaStartLimit, err, tail(n.log.Name(), 60))
}

// call sends one API request and decodes the answer into out (if not nil).
func (n *icingaNode) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "https://"+net.JoinHostPort(n.addr, icingaAPIPort)+path, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth(icingaAPIUser, icingaAPIPass)
	req.Header.Set("Accept", "application/json")
	resp, err := n.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return nil
}

// icingaObjects is the answer of /v1/objects/{hosts,services}.
type icingaObjects struct {
	Results []struct {
		Name  string `json:"name"`
		Attrs struct {
			LastCheckResult *icingaResult `json:"last_check_result"`
		} `json:"attrs"`
	} `json:"results"`
}

// icingaResult is a check result as the API gives it.
type icingaResult struct {
	State          float64 `json:"state"`
	ExitStatus     float64 `json:"exit_status"`
	Output         string  `json:"output"`
	Perfdata       []any   `json:"performance_data"`
	Command        any     `json:"command"`
	Source         string  `json:"check_source"`
	ExecutionStart float64 `json:"execution_start"`
}

func (r icingaResult) perfdata() string {
	var s []string
	for _, p := range r.Perfdata {
		if str, ok := p.(string); ok {
			s = append(s, str)
		} else {
			b, _ := json.Marshal(p)
			s = append(s, string(b))
		}
	}
	return strings.Join(s, " ")
}

func (r icingaResult) command() []string {
	var argv []string
	switch c := r.Command.(type) {
	case string:
		argv = []string{c}
	case []any:
		for _, a := range c {
			argv = append(argv, fmt.Sprint(a))
		}
	}
	return argv
}

// arg is the value that follows opt on the command line, "" if absent.
func (r icingaResult) arg(opt string) string {
	argv := r.command()
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == opt {
			return argv[i+1]
		}
	}
	return ""
}

// results is every host and service on the node with its last result.
func (n *icingaNode) results() (map[string]*icingaResult, error) {
	all := map[string]*icingaResult{}
	for _, typ := range []string{"hosts", "services"} {
		var objs icingaObjects
		if err := n.call(http.MethodGet, "/v1/objects/"+typ+"?attrs=last_check_result", nil, &objs); err != nil {
			return nil, err
		}
		for _, o := range objs.Results {
			all[o.Name] = o.Attrs.LastCheckResult
		}
	}
	return all, nil
}

// icingaWaitSynced waits until the satellite runs the configuration the
// master synced (its services, as many as want, exist there) and the master
// sees it connected.
func icingaWaitSynced(t *testing.T, master, satellite *icingaNode, want int) {
	t.Helper()
	deadline := time.Now().Add(icingaSyncLimit)
	what := "nothing yet"
	for {
		master.exited(t)
		satellite.exited(t)
		var objs icingaObjects
		var ep struct {
			Results []struct {
				Attrs struct {
					Connected bool `json:"connected"`
				} `json:"attrs"`
			} `json:"results"`
		}
		err := satellite.call(http.MethodGet, "/v1/objects/services?attrs=name", nil, &objs)
		switch {
		case err != nil:
			what = fmt.Sprintf("satellite API: %v", err)
		case len(objs.Results) != want:
			what = fmt.Sprintf("the satellite has %d of its %d services", len(objs.Results), want)
		default:
			err = master.call(http.MethodGet, "/v1/objects/endpoints/satellite?attrs=connected", nil, &ep)
			switch {
			case err != nil:
				what = fmt.Sprintf("master API: %v", err)
			case len(ep.Results) != 1 || !ep.Results[0].Attrs.Connected:
				what = "the satellite runs the synced configuration but is not connected to the master"
			default:
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("config sync not settled after %v: %s\nsatellite's zones-stage-startup.log:\n%s", icingaSyncLimit, what,
				tail(filepath.Join(satellite.dir, "data", "api", "zones-stage-startup.log"), 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// icingaWaitResults waits until every wanted object has a result that
// started after since, as the master sees it. A command_endpoint check
// whose message was lost (a connection that closed as it was sent) is
// sent again only after the command's timeout + 30 s: every 15 s, again
// calls for the checks of what is missing.
func icingaWaitResults(t *testing.T, master *icingaNode, wants []icingaWant, since time.Time, again func(missing []string)) map[string]*icingaResult {
	t.Helper()
	deadline := time.Now().Add(icingaResultLimit)
	nudge := time.Now().Add(15 * time.Second)
	start := float64(since.UnixNano()) / 1e9
	for {
		master.exited(t)
		all, err := master.results()
		var missing []string
		if err != nil {
			missing = []string{err.Error()}
		} else {
			for _, w := range wants {
				if r := all[w.name]; r == nil || r.ExecutionStart < start {
					missing = append(missing, w.name)
				}
			}
		}
		if len(missing) == 0 {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the reschedule the master has no new result for %s", icingaResultLimit, strings.Join(missing, ", "))
		}
		if err == nil && time.Now().After(nudge) {
			t.Logf("no result yet for %s: rescheduling them again", strings.Join(missing, ", "))
			again(missing)
			nudge = time.Now().Add(15 * time.Second)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// nsDial connects from the named network namespace: the socket is made by
// a thread that joined it (a socket stays in the namespace it was made in),
// which then goes back.
func nsDial(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type dialed struct {
		c   net.Conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- dialed{err: err}
			return
		}
		defer back.Close()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- dialed{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- dialed{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, network, addr)
		if err := unix.Setns(int(back.Fd()), unix.CLONE_NEWNET); err != nil {
			// stay locked: the thread ends with this goroutine
			if c != nil {
				c.Close()
			}
			ch <- dialed{err: fmt.Errorf("setns back from %s: %w", ns, err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- dialed{c, err}
	}()
	d := <-ch
	return d.c, d.err
}

// tail is the last n lines of a file, for a failure message.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
