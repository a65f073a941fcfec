package probefront

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// The families follow blackbox_exporter 0.23's probers (prober/http.go,
// tcp.go, dns.go, utils.go, tls.go): the same names, label names, types
// and meanings, written in the same cases, so that its users' rules and
// dashboards read lbcheckd unchanged. README.md, "lbcheckd and
// blackbox_exporter", has the table, check by check.

// phaseSeries names each check's phase metric, renames its phases to
// blackbox's words where blackbox has the series, and lists the phases
// blackbox always writes (zero when the probe did not get that far).
var phaseSeries = map[string]struct {
	name   string
	rename map[string]string
	always []string
}{
	"check_http_status":   {"probe_http_duration_seconds", map[string]string{"first_byte": "processing"}, []string{"resolve", "connect", "tls", "processing", "transfer"}},
	"check_dns_answer":    {"probe_dns_duration_seconds", map[string]string{"answer": "request", "tls": "connect"}, []string{"resolve", "connect", "request"}},
	"check_ssl_hello":     {"probe_ssl_hello_duration_seconds", nil, nil},
	"check_ftp_noop":      {"probe_ftp_duration_seconds", nil, nil},
	"check_tcp_half_open": {"probe_tcp_half_open_duration_seconds", nil, nil},
}

// The series, as blackbox_exporter names and explains them where it has
// them.
var (
	descSuccess     = desc{"probe_success", "Displays whether or not the probe was a success: 1 for an OK or WARNING verdict."}
	descDuration    = desc{"probe_duration_seconds", "Returns how long the probe took to complete in seconds"}
	descTimeout     = desc{"probe_timeout_seconds", "Returns how long the probe timeout is in seconds"}
	descState       = desc{"probe_nagios_state", "The check's verdict as a Nagios state: 0 OK, 1 WARNING, 2 CRITICAL."}
	descAge         = desc{"probe_verdict_age_seconds", "How old the watched target's verdict is: the module keeps watch and answered from memory."}
	descProtocol    = desc{"probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6"}
	descAddrHash    = desc{"probe_ip_addr_hash", "Specifies the hash of IP address. It's useful to detect if the IP address changes."}
	descLookup      = desc{"probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds"}
	descStatus      = desc{"probe_http_status_code", "Response HTTP status code"}
	descSSL         = desc{"probe_http_ssl", "Indicates if SSL was used for the final redirect"}
	descLength      = desc{"probe_http_content_length", "Length of http content response"}
	descBody        = desc{"probe_http_uncompressed_body_length", "Length of uncompressed response body"}
	descRedirects   = desc{"probe_http_redirects", "The number of redirects"}
	descHTTPVersion = desc{"probe_http_version", "Returns the version of HTTP of the probe response"}
	descRegex       = desc{"probe_failed_due_to_regex", "Indicates if probe failed due to regex"}
	descLastMod     = desc{"probe_http_last_modified_timestamp_seconds", "Returns the Last-Modified HTTP response header in unixtime"}
	descExpiry      = desc{"probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime"}
	descChainExpiry = desc{"probe_ssl_last_chain_expiry_timestamp_seconds", "Returns last SSL chain expiry in timestamp seconds"}
	descChainInfo   = desc{"probe_ssl_last_chain_info", "Contains SSL leaf certificate information"}
	descTLSVer      = desc{"probe_tls_version_info", "Returns the TLS version used or NaN when unknown"}
	descCipher      = desc{"probe_tls_cipher_info", "Returns the TLS cipher negotiated during handshake"}
	descAnswer      = desc{"probe_dns_answer_rrs", "Returns number of entries in the answer resource record list"}
	descAuth        = desc{"probe_dns_authority_rrs", "Returns number of entries in the authority resource record list"}
	descExtra       = desc{"probe_dns_additional_rrs", "Returns number of entries in the additional resource record list"}
	descQuery       = desc{"probe_dns_query_succeeded", "Displays whether or not the query was executed successfully"}
	descSerial      = desc{"probe_dns_serial", "Returns the serial number of the zone"}
)

const phaseHelp = "Duration of the probe by phase"

// zeroTime is what blackbox writes for a time it does not have: Go's zero
// time in Unix seconds (probe_ssl_last_chain_expiry_timestamp_seconds when
// no chain was verified).
var zeroTime = float64(time.Time{}.Unix())

// collect puts one probe's series in x.
func collect(x *exposition, res daemon.Result) {
	gauge := x.gauge
	success := 0.0
	if res.State == exitcode.OK || res.State == exitcode.Warning {
		success = 1
	}
	gauge(descSuccess, success)
	gauge(descDuration, res.Duration.Seconds())
	gauge(descTimeout, res.Deadline.Seconds())
	gauge(descState, float64(res.State))
	if res.Watched {
		gauge(descAge, res.Age.Seconds())
	}
	// Every blackbox prober writes these three before it resolves: zero
	// for a name that did not resolve.
	proto, hash := 0.0, 0.0
	if res.Target != nil && res.Target.Addr.IsValid() {
		a := res.Target.Addr.Addr().Unmap()
		proto = 6
		if a.Is4() {
			proto = 4
		}
		hash = ipHash(a.AsSlice())
	}
	gauge(descProtocol, proto)
	gauge(descAddrHash, hash)
	gauge(descLookup, res.Lookup.Seconds())

	command := res.Module.Cmd.Spec.Command
	if s, ok := phaseSeries[command]; ok {
		seen := map[string]float64{}
		var order []string
		add := func(name string, v float64) {
			if _, ok := seen[name]; !ok {
				order = append(order, name)
			}
			seen[name] += v
		}
		for _, name := range s.always {
			add(name, 0)
		}
		if len(s.always) > 0 {
			add("resolve", res.Lookup.Seconds())
		}
		for _, p := range res.Phases {
			name := p.Name
			if n, ok := s.rename[name]; ok {
				name = n
			}
			add(name, p.Duration.Seconds())
		}
		for _, name := range order {
			gauge(desc{s.name, phaseHelp}, seen[name], "phase", name)
		}
	}
	f := res.Facts
	tlsDone := f.TLSVersion != 0
	switch command {
	case "check_http_status":
		// blackbox writes these whenever the prober ran, as 0 when no
		// answer came; its TLS series only with an answer over TLS.
		answered := f.HTTPStatus != 0
		tlsDone = tlsDone && answered
		length := 0.0
		if answered {
			length = float64(f.HTTPContentLength)
		}
		gauge(descStatus, float64(f.HTTPStatus))
		gauge(descSSL, b2f(tlsDone))
		gauge(descLength, length)
		gauge(descBody, float64(f.HTTPBodyBytes))
		gauge(descRedirects, 0) // a check never follows a redirect
		gauge(descHTTPVersion, float64(f.HTTPVersion)/10)
		gauge(descRegex, b2f(f.RegexFailed))
		if f.HTTPLastModified != "" {
			if t, err := http.ParseTime(f.HTTPLastModified); err == nil {
				gauge(descLastMod, float64(t.Unix()))
			}
		}
	case "check_tcp_half_open", "check_ssl_hello":
		// blackbox's tcp prober: no query_response regex in our checks.
		gauge(descRegex, 0)
	case "check_dns_answer":
		gauge(descAnswer, float64(f.DNSAnswer))
		gauge(descAuth, float64(f.DNSAuthority))
		gauge(descExtra, float64(f.DNSAdditional))
		gauge(descQuery, b2f(f.DNSReply))
		if f.DNSSOAReply {
			gauge(descSerial, float64(f.DNSSerial))
		}
	}
	if tlsDone {
		gauge(descTLSVer, 1, "version", tlsVersion(f.TLSVersion))
		gauge(descCipher, 1, "cipher", tls.CipherSuiteName(f.TLSCipher))
		if f.CertExpiry != 0 {
			gauge(descExpiry, float64(f.CertExpiry))
		}
		chain := zeroTime
		if f.ChainExpiry != 0 {
			chain = float64(f.ChainExpiry)
		}
		gauge(descChainExpiry, chain)
		if info := chainInfo(f.CertDER); info != nil {
			gauge(descChainInfo, 1, info...)
		}
	}
}

// chainInfo is probe_ssl_last_chain_info's labels for a leaf certificate,
// nil when there is none to read. A target's certificate seldom changes:
// the labels are kept by fingerprint (parsing it again doubled the cost of
// a TLS probe's answer).
func chainInfo(der []byte) []string {
	if len(der) == 0 {
		return nil
	}
	sum := sha256.Sum256(der)
	infoCache.Lock()
	info, ok := infoCache.m[sum]
	infoCache.Unlock()
	if ok {
		return info
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	info = []string{
		"fingerprint_sha256", hex.EncodeToString(sum[:]),
		"issuer", c.Issuer.String(),
		"subject", c.Subject.String(),
		"subjectalternative", strings.Join(c.DNSNames, ","),
	}
	if labelBytes(info) > maxInfoBytes {
		return info // a certificate with thousands of names: not kept
	}
	infoCache.Lock()
	if len(infoCache.m) >= maxInfoCache {
		clear(infoCache.m) // bounded: a sweep of many hosts starts over
	}
	infoCache.m[sum] = info
	infoCache.Unlock()
	return info
}

// maxInfoCache and maxInfoBytes bound the cache: entries, and the label
// bytes of one (a certificate may carry thousands of names), so that it
// holds at most 4096 * 4 KiB.
const (
	maxInfoCache = 4096
	maxInfoBytes = 4 << 10
)

func labelBytes(labels []string) int {
	n := 0
	for _, l := range labels {
		n += len(l)
	}
	return n
}

var infoCache = struct {
	sync.Mutex
	m map[[sha256.Size]byte][]string
}{m: map[[sha256.Size]byte][]string{}}

// ipHash is blackbox's probe_ip_addr_hash: FNV-32a of the address's bytes
// (4 for IPv4, 16 for IPv6).
func ipHash(ip []byte) float64 {
	h := fnv.New32a()
	h.Write(ip)
	return float64(h.Sum32())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
