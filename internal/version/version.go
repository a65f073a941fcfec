// Package version is the suite's version, one for every binary: set by the
// build (make build: -ldflags "-X github.com/lbcheck/lbcheck/internal/version.Version=1.2.3").
package version

// Version is what --version prints and the HTTP check's User-Agent names.
var Version = "dev"
