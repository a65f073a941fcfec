// Package version names the build a binary came from, one version for the
// whole suite. make sets it with -ldflags "-X
// github.com/lbcheck/lbcheck/internal/version.Version=1.2.3"
// (scripts/version.sh); a binary built with plain `go build` or
// `go install …@vX` falls back, for --version and the man page, to what
// the go command recorded in it.
package version

import (
	"runtime/debug"
	"strings"
)

// Version is what -X set, "dev" without it. The HTTP check's User-Agent
// names it on every call, so it is read as is there.
var Version = "dev"

// String is the version as --version prints it: Of(Version).
func String() string { return Of(Version) }

// Of returns set, the version -X gave the binary, unless it is the
// default "dev"; then the module version (go install …@v1.2.3 gives
// 1.2.3, go build in a git checkout a pseudo-version naming the commit),
// else the VCS revision, else "dev". It reads the build info, so call it
// only when the version is asked for, not on every check.
func Of(set string) string {
	if set != "" && set != "dev" {
		return set
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) string {
	// "(devel)" is the go command's word for "built from a work tree
	// whose version it does not know".
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		// The packages and version.sh say 1.2.3 for the tag v1.2.3.
		return strings.TrimPrefix(v, "v")
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = ".dirty"
		}
	}
	if rev == "" {
		return "dev"
	}
	return "dev+g" + rev[:min(12, len(rev))] + dirty
}
