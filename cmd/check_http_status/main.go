// Command check_http_status checks that an HTTP(S) endpoint answers with an
// expected status, for load balancers and monitoring systems.
package main

import (
	"context"
	"io"
	"os"

	"github.com/lbcheck/lbcheck/internal/plugin"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/httpstatus"
)

func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := &httpstatus.Options{}
	o.SetVersion(plugin.Version)
	return plugin.Run(ctx, plugin.Spec{
		Name:        "HTTP_STATUS",
		Command:     "check_http_status",
		Purpose:     "an HTTP(S) endpoint answers with an expected status",
		PortHelp:    "PORT defaults to 80, or 443 with --tls.",
		DefaultPort: o.DefaultPort,
		Flags:       o.Flags,
		Validate:    o.Validate,
		Probe: func(ctx context.Context, t probe.Target) probe.Result {
			return httpstatus.Probe(ctx, t, o)
		},
		Examples: []plugin.Example{
			{Command: "check_http_status 10.0.0.5 80", What: "any 2xx answer to GET / is OK"},
			{Command: "check_http_status -u /haproxy-health 10.0.0.5 8080", What: "HAProxy monitor-uri: 200 is OK, 503 (monitor fail) CRITICAL"},
			{Command: "check_http_status --tls --vhost www.example.org -u /health -e 200,204 10.0.0.5", What: "HTTPS on 443 with SNI and Host www.example.org"},
			{Command: "check_http_status --body-regex 'status: ?up' -w 0.5 -c 1 app.example.org 8080", What: "body must match; WARNING over 0.5 s, CRITICAL over 1 s"},
			{Command: "check_http_status -u /index.html --digest 9b3b... 10.0.0.5", What: "keepalived HTTP_GET digest (genhash's MD5)"},
			{Command: "check_http_status --exit-style binary -t 2 10.0.0.5 80", What: "keepalived MISC_CHECK with misc_dynamic: exit 0 up, 1 down"},
		},
	}, args, stdout, stderr)
}
