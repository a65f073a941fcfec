package version

import (
	"runtime/debug"
	"testing"
)

func TestOfPrefersWhatMakeSet(t *testing.T) {
	if got := Of("1.2.3+git4.gabcdef012345"); got != "1.2.3+git4.gabcdef012345" {
		t.Errorf("Of = %q", got)
	}
}

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"go install at a tag", "v1.2.3", nil, "1.2.3"},
		{"pseudo-version", "v0.0.0-20260102030405-0123456789ab", vcs(sha, "false"), "0.0.0-20260102030405-0123456789ab"},
		{"pseudo-version, modified", "v0.0.0-20260102030405-0123456789ab+dirty", vcs(sha, "true"), "0.0.0-20260102030405-0123456789ab+dirty"},
		{"revision only", "(devel)", vcs(sha, "false"), "dev+g0123456789ab"},
		{"revision only, modified", "(devel)", vcs(sha, "true"), "dev+g0123456789ab.dirty"},
		{"short revision", "", vcs("abc", "false"), "dev+gabc"},
		{"nothing known", "(devel)", nil, "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/lbcheck/lbcheck", Version: tt.version}, Settings: tt.settings}
			if got := fromBuildInfo(bi); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
