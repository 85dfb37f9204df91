#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# demo.sh: the whole product in one command, on a fresh Debian 12 machine as root.
#
# Usage: scripts/demo.sh [--skip-deps] [--build-dir DIR]
#
# Installs what it needs (.ci/install-deps), builds mediaupd, makes version 2 of the test
# guest's sample OS, builds an encrypted bundle with scripts/make-encrypted-bundle.sh and a
# USB stick image holding it, boots the QEMU guest (a device running version 1), installs the
# daemon there as a package would, and plugs the stick. From then on nothing is typed into
# the guest that does the update: the daemon notices the stick, unlocks, verifies, applies and
# deploys by itself, and reboots into version 2 once the stick is pulled. The demo only
# watches: `mediaupdctl watch`, the journal events, `mediaupdctl status` before and after.
#
#   --skip-deps      do not run .ci/install-deps (the packages are installed already)
#   --build-dir DIR  the build directory (default: build-demo in the source tree)
#
# Takes several minutes on a 2-core machine without KVM (the guest runs under TCG); the first
# run also builds the guest image (tests/vm/README.md). The guest is always powered off at the
# end, and nothing is left mounted or attached on this machine.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SRC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO_START=$SECONDS
BUILD_DIR=$SRC_ROOT/build-demo
SKIP_DEPS=0
STEP=0
STEPS=8

die() {
	echo "demo.sh: error: $*" >&2
	exit 1
}
usage() {
	sed -n 's/^# \{0,1\}//; 4,21p' "$0"
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--skip-deps)
		SKIP_DEPS=1
		shift
		;;
	--build-dir)
		[ $# -ge 2 ] || die "--build-dir needs a directory"
		BUILD_DIR=$(realpath -m "$2")
		shift 2
		;;
	-h | --help) usage 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

# As a test of the vm suite (scripts/meson.build), skipped like the others.
if [ "${MEDIAUPD_SKIP_VM_TESTS:-0}" = 1 ]; then
	echo "SKIP: MEDIAUPD_SKIP_VM_TESTS=1, and the demo needs the QEMU guest"
	exit 77
fi
[ "$(id -u)" = 0 ] ||
	die "run this as root (e.g. sudo scripts/demo.sh): it installs Debian packages, builds the guest image under /var/cache/mediaupd-vm (debootstrap, chroot) and runs QEMU"

# bold on a terminal only
BOLD="" PLAIN=""
if [ -t 1 ]; then
	BOLD=$'\033[1m' PLAIN=$'\033[0m'
fi
# step TITLE: a banner for the next step, with the time since the start
step() {
	STEP=$((STEP + 1))
	printf '\n%s==> [%d/%d] %s%s  (%d s)\n' "$BOLD" "$STEP" "$STEPS" "$1" "$PLAIN" \
		"$((SECONDS - DEMO_START))"
}
# note TEXT: a line of explanation
note() { printf '    %s\n' "$*"; }
# shown PROMPT CMD...: print the command line, with the scratch directory as $WORK, the
# image's repository as $IMAGE_REPO and the two versions' commits as $V1 and $V2
shown() {
	local prompt=$1 s="" a q="'"
	shift
	for a in "$@"; do
		if [[ $a =~ ^[][A-Za-z0-9_./=:,@%+^-]+$ ]]; then
			s+="$a "
		else
			s+="$q${a//$q/$q\\$q$q}$q "
		fi
	done
	[ -z "${T_WORK:-}" ] || s=${s//"$T_WORK"/\$WORK}
	[ -z "${VM_REPO:-}" ] || s=${s//"$VM_REPO"/\$IMAGE_REPO}
	[ -z "${VM_COMMIT_1:-}" ] || s=${s//"$VM_COMMIT_1"/\$V1}
	[ -z "${V2_COMMIT:-}" ] || s=${s//"$V2_COMMIT"/\$V2}
	printf '  %s %s\n' "$prompt" "${s% }"
}
# host CMD...: show a command run on this machine, then run it
host() {
	shown '$' "$@"
	"$@"
}
# board_state: the board's state as `vm status` gives it: "running, ready N" while power-on N
# is up, "running, booting N" meanwhile, "not running (...)" once it stopped
board_state() { "$VM" status | sed -n 's/^board: //p'; }
# guest CMD...: show a command run in the guest, then run it there, its output indented
guest() {
	shown 'device#' "$@"
	"$VM" exec -- "$@" 2>&1 | sed 's/^/    /'
}

cd "$SRC_ROOT"

# ---------------------------------------------------------------------------------------------
step "Installing the build and test dependencies (Debian packages)"
if [ "$SKIP_DEPS" = 1 ]; then
	note "skipped (--skip-deps)"
else
	host bash .ci/install-deps
fi

# ---------------------------------------------------------------------------------------------
step "Building mediaupd in ${BUILD_DIR#"$SRC_ROOT"/}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
	host meson setup "$BUILD_DIR" -Dtest_hooks=false -Dvm_tests=false
fi
host meson compile -C "$BUILD_DIR"
export MEDIAUPD_BUILD_ROOT=$BUILD_DIR

# ---------------------------------------------------------------------------------------------
step "The guest image and two versions of a sample OS"
host tests/vm/vm build
# The vm suite's helpers: a run directory and scratch directory of our own ($MEDIAUPD_VM_RUN,
# $T_WORK), `g CMD` in the guest, `fail`, the guest's keys and configuration (guest_setup),
# the daemon installed from the build (daemon_install), the daemon's properties.
# shellcheck source=../tests/vm/tests/lib.sh
. "$SRC_ROOT/tests/vm/tests/lib.sh"
# shellcheck source=../tests/vm/tests/engine-lib.sh
. "$SRC_ROOT/tests/vm/tests/engine-lib.sh"
# shellcheck source=../tests/vm/tests/daemon-lib.sh
. "$SRC_ROOT/tests/vm/tests/daemon-lib.sh"
WATCH_PID=""
WATCH_LOG=$T_WORK/watch.log

# The trap of lib.sh, with the watcher stopped first and a check that this machine keeps no
# loop device or mount of the demo's files.
demo_cleanup() {
	local rc=$? leftovers
	set +e
	if [ -n "$WATCH_PID" ] && kill -0 "$WATCH_PID" 2>/dev/null; then
		kill "$WATCH_PID" 2>/dev/null
		wait "$WATCH_PID" 2>/dev/null
	fi
	if [ "$rc" != 0 ]; then
		echo
		echo "--- the demo failed (exit $rc); the daemon's journal (end):"
		"$VM" exec --timeout 30 -- journalctl --no-pager -b -u mediaupd.service 2>&1 | tail -n 40
		echo "--- guest state:"
		"$VM" status
		echo "--- serial console (end):"
		tail -n 40 "$MEDIAUPD_VM_RUN/serial.log" 2>/dev/null
	fi
	echo
	echo "Powering the guest off."
	"$VM" down >/dev/null 2>&1
	rm -rf "$MEDIAUPD_VM_RUN" "$T_WORK"
	leftovers=$({
		losetup -n -O BACK-FILE 2>/dev/null
		findmnt -rn -o SOURCE,TARGET 2>/dev/null
	} | grep -F -e "$MEDIAUPD_VM_RUN" || true)
	if [ -n "$leftovers" ]; then
		echo "demo.sh: error: left on this machine: $leftovers" >&2
		[ "$rc" != 0 ] || rc=1
	fi
	echo "Total time: $((SECONDS - DEMO_START)) s ($(nproc) cores, guest under TCG)."
	exit "$rc"
}
trap demo_cleanup EXIT

eval "$("$VM" info)"
ENG_REPO=$T_WORK/repo
V2_TREE=$T_WORK/v2-overlay
note "The device runs version 1 of the test OS '$VM_OS': V1=$VM_COMMIT_1"
note "IMAGE_REPO=$VM_REPO (the cached image's repository, not written)"
note "WORK=$T_WORK (scratch, removed at the end)"
note "Version 2 is made here, in a scratch copy of the image's OSTree repository:"
host ostree --repo="$ENG_REPO" init --mode=archive
host ostree --repo="$ENG_REPO" pull-local "$VM_REPO" "$VM_COMMIT_1"
mkdir -p "$V2_TREE/usr/lib/mediaupd-testos" "$V2_TREE/usr/etc"
echo 2 >"$V2_TREE/usr/lib/mediaupd-testos/version"
ostree --repo="$ENG_REPO" cat "$VM_COMMIT_1" /usr/lib/os-release |
	sed '/^IMAGE_VERSION=/d' >"$V2_TREE/usr/lib/os-release"
echo IMAGE_VERSION=2 >>"$V2_TREE/usr/lib/os-release"
{
	ostree --repo="$ENG_REPO" cat "$VM_COMMIT_1" /usr/etc/motd
	echo
	echo "*** Version 2 of the sample OS: installed from a USB stick by mediaupd. ***"
} >"$V2_TREE/usr/etc/motd"
chmod 644 "$V2_TREE/usr/lib/mediaupd-testos/version" "$V2_TREE/usr/lib/os-release" \
	"$V2_TREE/usr/etc/motd"
find "$V2_TREE" -type d -exec chmod 755 {} +
note "changed files: /usr/lib/mediaupd-testos/version, /usr/lib/os-release (IMAGE_VERSION=2), /usr/etc/motd"
v2_commit=(ostree --repo="$ENG_REPO" commit -b "$VM_REF" --tree=ref="$VM_COMMIT_1"
	--tree=dir="$V2_TREE"
	--subject="sample OS, version 2" --add-metadata-string=version=2)
shown '$' "${v2_commit[@]}"
V2_COMMIT=$("${v2_commit[@]}")
note "version 2: V2=$V2_COMMIT on $VM_REF"

# ---------------------------------------------------------------------------------------------
step "The encrypted bundle (make-encrypted-bundle.sh) and a USB stick holding it"
BUNDLE=$T_WORK/static-update.bundle.enc
STICK=$T_WORK/stick.img
note "Signed with the example signing key, encrypted to the example device keys main-2026 and"
note "fallback-1 (keys-example/: for demos and tests only):"
export MEDIAUPD_BUNDLE=$BUILD_DIR/daemon/mediaupd-bundle/mediaupd-bundle
host scripts/make-encrypted-bundle.sh --repo "$ENG_REPO" --ref "$VM_REF" \
	--from "$VM_COMMIT_1" --to "$V2_COMMIT" \
	--signing-key keys-example/example-signing.secret \
	--key main-2026=keys-example/main-2026.key --key fallback-1=keys-example/fallback-1.key \
	--output "$BUNDLE" 2>&1 | sed 's/^/    /'
host tests/vm/make-stick "$STICK" "$BUNDLE"

# ---------------------------------------------------------------------------------------------
step "The device: boot, install the daemon, status before"
vm_up
note "The device's keys, its trusted signing key and its configuration (as the vendor's image has them):"
guest_setup
daemon_install
# The daemon reads its configuration from the build's sysconfdir (/usr/local/etc/mediaupd
# for a build with the default prefix, /etc/mediaupd for a package).
DAEMON_CONF=$(sed -n 's/^#define MEDIAUPD_SYSCONFDIR "\(.*\)"$/\1/p' "$BUILD_DIR/config.h")/mediaupd.conf
[ "$DAEMON_CONF" != /mediaupd.conf ] || fail "$BUILD_DIR/config.h has no MEDIAUPD_SYSCONFDIR"
if [ "$DAEMON_CONF" != "$GUEST_CONF" ]; then
	g mkdir -p "${DAEMON_CONF%/*}"
	g cp "$GUEST_CONF" "$DAEMON_CONF"
fi
guest ls -l /etc/mediaupd/keys /etc/ostree/trusted.ed25519.d
guest cat "$DAEMON_CONF"
guest ostree admin status
guest sh -c 'cat /usr/lib/mediaupd-testos/version; grep ^IMAGE_VERSION= /etc/os-release'
note "Nothing of mediaupd runs until a medium arrives or someone asks on D-Bus:"
guest systemctl is-active mediaupd.service || true
note "mediaupdctl asks the daemon over D-Bus (which starts it):"
guest mediaupdctl status

# ---------------------------------------------------------------------------------------------
step "Plugging the stick: the device updates itself"
note "mediaupdctl watch follows the daemon over D-Bus; its lines are marked 'watch |'."
: >"$WATCH_LOG"
"$VM" exec --timeout 3600 -- mediaupdctl watch \
	> >(tee -a "$WATCH_LOG" | sed -u 's/^/    watch | /') 2>&1 &
WATCH_PID=$!
timeout 30 sh -c "until grep -q '^State:' '$WATCH_LOG'; do sleep 0.2; done" ||
	fail "mediaupdctl watch printed nothing within 30 s"
BOOT_BEFORE=$(board_state)
case $BOOT_BEFORE in
"running, ready "*) BOOT_BEFORE=${BOOT_BEFORE##* } ;;
*) fail "the board is not ready: '$BOOT_BEFORE'" ;;
esac
PLUG_T0=$SECONDS
host tests/vm/vm plug usb "$STICK" stick
note "(no command is typed into the device from here on until it has rebooted)"
timeout 1200 sh -c "until grep -q '^Completed:' '$WATCH_LOG'; do
		kill -0 $WATCH_PID 2>/dev/null || exit 1; sleep 0.5; done" ||
	fail "no Completed line from mediaupdctl watch within 1200 s of the plug"
completed=$(grep -m1 '^Completed:' "$WATCH_LOG")
case $completed in
"Completed: failed"*) fail "the daemon did not install the update: $completed" ;;
esac
note "installed $((SECONDS - PLUG_T0)) s after the plug"

# ---------------------------------------------------------------------------------------------
step "What support staff see: the journal, and status after"
# Every MESSAGE_ID of daemon/engine/mu-events.h (journalctl ORs matches of one field)
matches=()
while read -r id; do
	matches+=("MESSAGE_ID=$id")
done < <(sed -n 's/^#define MU_EVENT_[A-Z_]*_ID "\([0-9a-f]\{32\}\)"$/\1/p' daemon/engine/mu-events.h)
[ "${#matches[@]}" -gt 0 ] || fail "no MESSAGE_ID found in daemon/engine/mu-events.h"
printf '  device# journalctl -b MESSAGE_ID=... (every mediaupd event)\n'
"$VM" exec -- journalctl --no-pager -b -o json "${matches[@]}" >"$T_WORK/events.json"
python3 - "$T_WORK/events.json" daemon/engine/mu-events.h <<'PY'
import json, re, sys, time
names = dict((m.group(2), m.group(1)) for m in re.finditer(
    r'#define MU_EVENT_([A-Z_]+)_ID "([0-9a-f]{32})"', open(sys.argv[2]).read()))
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    msg = e.get("MESSAGE")
    if not isinstance(msg, str):
        msg = "(not UTF-8)"
    t = time.strftime("%H:%M:%S", time.gmtime(int(e["__REALTIME_TIMESTAMP"]) / 1e6))
    print(f"    {t}  {names.get(e.get('MESSAGE_ID'), '?'):<18} {msg}")
    n += 1
if n == 0:
    sys.exit("no mediaupd event in the guest's journal")
PY
deployed_id=$(sed -n 's/^#define MU_EVENT_DEPLOYED_ID "\([0-9a-f]*\)"$/\1/p' daemon/engine/mu-events.h)
note "journalctl -x adds the catalog's explanation, e.g. for the deploy:"
guest journalctl --no-pager -b -x -o short-monotonic MESSAGE_ID="$deployed_id"
guest mediaupdctl status
check_eq "PendingVersion" "$(daemon_string PendingVersion)" 2
check_eq "PendingCommit" "$(daemon_string PendingCommit)" "$V2_COMMIT"
check_eq "booted deployment" "$(booted_commit)" "$VM_COMMIT_1"
check_eq "default deployment (next boot)" "$(default_commit)" "$V2_COMMIT"
note "Nothing of the install is left in the device (mappings, loop devices, mounts):"
clean=$(daemon_clean)
printf '%s\n' "$clean" | sed 's/^/    /'
check_eq "left in the device" "$(printf '%s\n' "$clean" | paste -sd ' ')" "dm: 0 loops: 0 mounts: 0"

# ---------------------------------------------------------------------------------------------
step "Pulling the stick: the device reboots into version 2"
host tests/vm/vm unplug stick
note "waiting for the device to restart (policy after-removal) ..."
t0=$SECONDS
while :; do
	board=$(board_state)
	case $board in
	"running, ready "*) [ "${board##* }" -le "$BOOT_BEFORE" ] || break ;;
	"running, "*) ;;
	*) fail "the board stopped: '$board'" ;;
	esac
	[ $((SECONDS - t0)) -lt 900 ] || fail "the device did not come back within 900 s of the unplug (board: '$board')"
	sleep 1
done
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=""
note "rebooted and ready $((SECONDS - t0)) s after the unplug; the board's boot record:"
"$VM" status | sed -n '/^--- boots/,/^--- media/{/^---/d;p}' | tail -n 3 | sed 's/^/    /'
guest ostree admin status
guest sh -c 'cat /usr/lib/mediaupd-testos/version; grep ^IMAGE_VERSION= /etc/os-release'
guest tail -n 2 /etc/motd
check_eq "booted deployment after the reboot" "$(booted_commit)" "$V2_COMMIT"
check_eq "version file after the reboot" "$(g cat /usr/lib/mediaupd-testos/version)" 2
note "The daemon's view (installed again: the demo's install lived in the old boot only):"
daemon_install
guest mediaupdctl status
check_eq "CurrentVersion after the reboot" "$(daemon_string CurrentVersion)" 2

echo
printf '%sDone: the device found the bundle on the stick, installed version 2 by itself and rebooted into it.%s\n' \
	"$BOLD" "$PLAIN"
