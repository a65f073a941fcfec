#!/bin/sh
# version.sh: the version the binaries print (--version) and the packages
# carry, from git. A release tag vX.Y.Z gives X.Y.Z; commits after it give
# X.Y.Z+gitN.gSHA (N commits since the tag), which dpkg and rpm both sort
# after X.Y.Z; before the first tag the base is 0.0.0. Uncommitted changes
# add .dirty, except under docs/: the test runs rewrite docs/fault-drill.md
# and docs/benchmarks.md, which the binaries do not contain. Outside git it is 0.0.0+unknown: a package version must start
# with a digit.
set -eu
cd "$(dirname "$0")/.."
if ! sha=$(git rev-parse --short=12 HEAD 2>/dev/null); then
	echo 0.0.0+unknown
	exit 0
fi
dirty=
git diff --quiet HEAD -- . ':!docs' 2>/dev/null || dirty=.dirty
if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
	base=${tag#v}
	n=$(git rev-list --count "$tag..HEAD")
else
	base=0.0.0
	n=$(git rev-list --count HEAD)
fi
if [ "$n" -eq 0 ]; then
	[ -z "$dirty" ] && echo "$base" || echo "$base+git0.g$sha$dirty"
else
	echo "$base+git$n.g$sha$dirty"
fi
