# shellcheck shell=bash disable=SC2034
# Common part of the vm suite's tests (sourced). Each test gets its own run directory and guest,
# and always takes the guest down again, whatever happens.
#
# MEDIAUPD_SKIP_VM_TESTS=1 skips the suite (exit 77). Without it, a test that cannot run fails.

set -euo pipefail

if [ "${MEDIAUPD_SKIP_VM_TESTS:-0}" = 1 ]; then
	echo "SKIP: MEDIAUPD_SKIP_VM_TESTS=1 asks to skip the QEMU guest tests"
	exit 77
fi

T_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM=$T_DIR/../vm
SRC_ROOT=$(cd "$T_DIR/../../.." && pwd)
T_NAME=$(basename "$0" .sh)
# where the guest sees the source tree (the 9p share the agent mounts)
GUEST_SRC=/run/mediaupd-vm/src

export MEDIAUPD_VM_RUN
MEDIAUPD_VM_RUN=$(mktemp -d "${TMPDIR:-/tmp}/mediaupd-vm-$T_NAME.XXXXXX")
T_WORK=$MEDIAUPD_VM_RUN.work
# the board stops the guest if this test dies without running its cleanup (SIGKILL)
export MEDIAUPD_VM_OWNER_PID=$$
mkdir -p "$T_WORK"
T_START=$SECONDS

t_cleanup() {
	local rc=$?
	set +e
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		echo "--- $T_NAME failed (exit $rc); guest state:"
		"$VM" status
		echo "--- serial console (end):"
		tail -n 40 "$MEDIAUPD_VM_RUN/serial.log" 2>/dev/null
	fi
	"$VM" down >/dev/null 2>&1
	rm -rf "$MEDIAUPD_VM_RUN" "$T_WORK"
	echo "# $T_NAME: $((SECONDS - T_START)) s"
	exit "$rc"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "# $*"; }
fail() {
	echo "FAIL: $*"
	exit 1
}
# check_eq WHAT ACTUAL EXPECTED
check_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
	echo "ok: $1 = '$3'"
}
# g CMD...: run CMD as root in the guest
g() { "$VM" exec -- "$@"; }

# vm_up: boot a fresh guest from the factory image and load the image facts (VM_COMMIT_1.., VM_REPO)
vm_up() {
	local t0=$SECONDS
	"$VM" up
	say "guest up in $((SECONDS - t0)) s"
	eval "$("$VM" info)"
}

# booted_commit: the commit of the booted deployment (ostree admin status marks it with '*')
booted_commit() { g ostree admin status | awk '$1 == "*" { sub(/\.[0-9]+$/, "", $3); print $3 }'; }
# default_commit: the commit of deployment 0, the one the boot loader boots by default
default_commit() {
	g ostree admin status | awk '/^[* ] / { c = ($1 == "*") ? $3 : $2; sub(/\.[0-9]+$/, "", c); print c; exit }'
}

# delta FROM TO FILE: a single-file offline static delta between two test OS commits
delta() {
	ostree --repo="$VM_REPO" static-delta generate --from="$1" --to="$2" --inline \
		--min-fallback-size=0 --filename="$3" >/dev/null
}

# deploy_by_hand DELTA_FILE TO: apply the delta in the guest with stock ostree and deploy TO
deploy_by_hand() {
	"$VM" copy-in "$1" /var/tmp/update.delta
	g ostree static-delta apply-offline /var/tmp/update.delta
	g ostree reset "$VM_REF" "$2"
	g ostree admin deploy --os="$VM_OS" "$VM_REF"
	g rm -f /var/tmp/update.delta
}

# make_bundle FILE: an encrypted bundle from version 1 to 2 made by scripts/make-encrypted-bundle.sh
# with the example keys main-2026 and fallback-1, signed with the example signing key
make_bundle() {
	[ -n "${MEDIAUPD_BUILD_ROOT:-}" ] ||
		fail "MEDIAUPD_BUILD_ROOT is not set: this test needs the project's build (run it with meson test)"
	MEDIAUPD_BUNDLE=$MEDIAUPD_BUILD_ROOT/daemon/mediaupd-bundle/mediaupd-bundle \
		"$SRC_ROOT/scripts/make-encrypted-bundle.sh" --repo "$VM_REPO" --ref "$VM_REF" \
		--from "$VM_COMMIT_1" --to "$VM_COMMIT_2" \
		--signing-key "$SRC_ROOT/keys-example/example-signing.secret" \
		--key main-2026="$SRC_ROOT/keys-example/main-2026.key" \
		--key fallback-1="$SRC_ROOT/keys-example/fallback-1.key" \
		--output "$1" --force >"$T_WORK/make-bundle.log" 2>&1 ||
		{
			cat "$T_WORK/make-bundle.log"
			fail "make-encrypted-bundle.sh failed"
		}
}

# plug_and_wait usb|sd IMAGE ID PARTITION FSTYPE: plug the medium; print the seconds until
# udisks2 reports the filesystem on PARTITION (measured on the host, from the plug command)
plug_and_wait() {
	local t0 bound=${MEDIAUPD_VM_PLUG_BOUND:-20}
	t0=$(date +%s.%N)
	"$VM" plug "$1" "$2" "$3"
	"$VM" exec --timeout $((bound + 30)) -- timeout "$bound" sh -c \
		"until udisksctl info -b $4 2>/dev/null | grep -q 'IdType: *$5\$'; do sleep 0.1; done" ||
		fail "udisks2 did not report a $5 filesystem on $4 within $bound s of the plug"
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }'
}

# open_bundle PARTITION: the guest opens, verifies and applies the bundle on PARTITION; two
# wrong keys are tried first (a random one, and an example key the bundle was not made for)
open_bundle() {
	g sh -c 'head -c 32 /dev/urandom >/run/wrong.key'
	g "$GUEST_SRC/tests/vm/tests/guest/open-bundle.sh" "$1" static-update.bundle.enc \
		"$GUEST_SRC/keys-example/trusted.ed25519" "$VM_COMMIT_2" \
		/run/wrong.key "$GUEST_SRC/keys-example/rotation-2027.key" \
		"$GUEST_SRC/keys-example/main-2026.key"
}
