package httpstatus

import (
	"context"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/version"
)

// Spec is check_http_status: what it is called, what it proves, and its options.
var Spec = check.Spec{
	Name:     "HTTP_STATUS",
	Command:  "check_http_status",
	Purpose:  "an HTTP(S) endpoint answers with an expected status",
	PortHelp: "PORT defaults to 80, or 443 with --tls.",
	New:      func() check.Options { return NewOptions(Parts{}, version.Version) },
	Examples: []check.Example{
		{Command: "check_http_status 10.0.0.5 80", What: "any 2xx answer to GET / is OK"},
		{Command: "check_http_status -u /haproxy-health 10.0.0.5 8080", What: "HAProxy monitor-uri: 200 is OK, 503 (monitor fail) CRITICAL"},
		{Command: "check_http_status --tls --vhost www.example.org -u /health -e 200,204 10.0.0.5", What: "HTTPS on 443 with SNI and Host www.example.org"},
		{Command: "check_http_status --body-regex 'status: ?up' -w 0.5 -c 1 app.example.org 8080", What: "body must match; WARNING over 0.5 s, CRITICAL over 1 s"},
		{Command: "check_http_status -u /index.html --digest 9b3b... 10.0.0.5", What: "keepalived HTTP_GET digest (genhash's MD5)"},
		{Command: "check_http_status --exit-style binary -t 2 10.0.0.5 80", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
		{Command: "check_http_status --proxy-protocol v2 -u /health 10.0.0.5 8080", What: "nginx listen ... proxy_protocol (behind HAProxy send-proxy-v2)"},
	},
}

// Probe runs one attempt of the check: the probe with these options.
func (o *Options) Probe(ctx context.Context, t probe.Target) probe.Result { return Probe(ctx, t, o) }
