#!/usr/bin/env bash
# sandbox.sh CMD [ARGS...]: run CMD (as root) in fresh network, mount and PID
# namespaces, so that `make integration` and `make bench` can run side by
# side, leave nothing behind, and cannot reach any network but their own.
#
# Inside, /run/netns and /etc/netns are private tmpfs mounts: the named
# namespaces netns.sh creates (lbc-cli, lbc-srv) exist only here. The
# "host" namespace is itself new and empty, so not a packet leaves it. CMD
# runs as PID 1's child: when the sandbox ends, every daemon started in it
# (nginx, HAProxy, unbound, ...) is killed by the kernel with it.
# LBC_STATE (the integration state dir) defaults to a fresh directory, so
# two sandboxes never share configs or pid files.
#
# Needs everything installed beforehand: there is no network inside.
set -euo pipefail
(($#)) || { echo "usage: sandbox.sh CMD [ARGS...]" >&2; exit 3; }
[[ $(id -u) -eq 0 ]] || { echo "sandbox.sh: must run as root (namespaces)" >&2; exit 3; }
if [[ -z ${LBC_STATE:-} ]]; then
	LBC_STATE=$(mktemp -d /tmp/lbcheck-sandbox.XXXXXX)
	trap 'rm -rf "$LBC_STATE"' EXIT
fi
export LBC_STATE LBC_SANDBOX=1
# Not exec: the trap above must run after the sandbox ends.
unshare --mount --net --pid --fork --propagation private bash -c '
	set -e
	mkdir -p /run/netns /etc/netns
	mount -t tmpfs lbc-netns /run/netns
	mount -t tmpfs lbc-etc-netns /etc/netns
	mount -t proc proc /proc  # this PID namespace'"'"'s view: pids as the tests see them
	ip link set lo up
	# Not exec: bash stays PID 1 and reaps the daemons netns.sh stops,
	# which would otherwise linger as zombies that still answer kill -0.
	rc=0; "$@" || rc=$?; exit $rc' sandbox "$@"
