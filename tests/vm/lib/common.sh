# shellcheck shell=bash disable=SC2034
# Shared settings and helpers of the QEMU test bed (sourced by tests/vm/vm and its helpers).
#
# Environment (all optional):
#   MEDIAUPD_VM_CACHE   cache of guest images and downloaded .debs   [/var/cache/mediaupd-vm]
#   MEDIAUPD_VM_RUN     state of the running guest (disk copy, logs) [/tmp/mediaupd-vm]
#   MEDIAUPD_VM_MIRROR  Debian mirror for the guest       [the host's apt mirror]
#   MEDIAUPD_VM_GUEST_LOCK  held while a guest runs: one guest at a time on the machine
#                       [/tmp/mediaupd-vm-guest.lock]

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VM_LIB=$VM_DIR/lib
VM_CACHE=${MEDIAUPD_VM_CACHE:-/var/cache/mediaupd-vm}
VM_RUN=${MEDIAUPD_VM_RUN:-/tmp/mediaupd-vm}
VM_GUEST_LOCK=${MEDIAUPD_VM_GUEST_LOCK:-/tmp/mediaupd-vm-guest.lock}

# The test OS: name of the OSTree stateroot, the branch its versions are committed on, and
# the Debian suite it is made from.
VM_OS=mediaupd-testos
VM_REF=mediaupd-testos/x86_64/main
VM_SUITE=bookworm
# Debian's python3 (QMP client, console time stamps), not whatever python3 is first in PATH
VM_PYTHON=/usr/bin/python3
[ -x "$VM_PYTHON" ] || VM_PYTHON=python3

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() {
	printf 'vm: error: %s\n' "$*" >&2
	exit 1
}

# vm_now: seconds since the epoch with millisecond precision
vm_now() { date +%s.%3N; }
# vm_since T0: seconds elapsed since T0 (from vm_now), one decimal
vm_since() { awk -v a="$1" -v b="$(vm_now)" 'BEGIN { printf "%.1f", b - a }'; }

# vm_need CMD...: fail with the package to install when a host tool is missing
vm_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			vm_die "'$c' not found on the host; run .ci/install-deps (as root) to install the test bed's packages"
	done
}

# vm_mirror: the Debian mirror the host's apt uses (first deb822 or one-line source)
vm_mirror() {
	if [ -n "${MEDIAUPD_VM_MIRROR:-}" ]; then
		echo "$MEDIAUPD_VM_MIRROR"
		return
	fi
	local m=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

# vm_kernel_pkg: "NAME VERSION" of the kernel package the guest boots (what linux-image-amd64
# points to in the host's apt lists)
vm_kernel_pkg() {
	local name ver
	name=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$name" ] || vm_die "apt knows no linux-image-amd64; run 'apt-get update' first"
	ver=$(apt-cache policy "$name" | awk '/Candidate:/ { print $2; exit }')
	echo "$name $ver"
}

# vm_hash FILE|STRING...: sha256 over the contents of the given files and literal strings
vm_hash() {
	local a
	for a in "$@"; do
		if [ -f "$a" ]; then
			printf 'file %s\n' "${a##*/}"
			cat "$a"
		else
			printf 'str %s\n' "$a"
		fi
	done | sha256sum | cut -c1-16
}

# vm_rm_tree DIR: remove a directory that may hold immutable OSTree deployment roots
vm_rm_tree() {
	[ -e "$1" ] || return 0
	find "$1" -xdev -maxdepth 6 -type d -path '*/ostree/deploy/*/deploy/*' -exec chattr -i {} + 2>/dev/null || true
	rm -rf "$1"
}
