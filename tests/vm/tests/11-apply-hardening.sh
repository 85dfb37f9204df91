#!/bin/bash
# vm test 11: what the engine does with a hostile inner image, on the OSTree-booted guest with
# real dm-crypt, loop and erofs mounts. Each bundle is encrypted to a device key and holds, in
# its erofs image, exactly one bad thing: `delta` as a symlink to / or to a guest directory
# holding a good signed delta, `delta/superblock` as a symlink to /dev/zero or as a FIFO, an
# envelope of 12 MiB, a part that is a symlink to /, a FIFO or a device node, a part swapped
# for a part of another delta cut to the signed size, and the xz bomb (the signed superblock
# kept, part 0 replaced by an xz stream of zeros of the same size). For each: CorruptDelta,
# the 'refused' journal event, no hang, nothing changed, no apply directory left; for the bomb
# also that the engine's writes (its /proc/PID/io) stay within the part's signed size, not the
# megabytes the stream expands to. Then the good bundle installs, timed, with its writes.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

REFUSED_ID=074dea9ae51f8bcec426499edd32dff9
APPLIED_ID=7abdbd5b2608995c8fa3ed490f1625fa
TRAP=/run/mediaupd-trap
m=$T_WORK/media
mkdir -p "$m"

vm_up
eng_repo

# good_dir NAME: a signed v1 -> v2 delta in $T_WORK/NAME, as the bundle maker lays it out
good_dir() {
	delta_dir "$T_WORK/$1" --from="$VM_COMMIT_1" --to="$VM_COMMIT_2"
	sign_dir "$T_WORK/$1" "$KEYS/example-signing.secret"
}

# assert_differs A B: a tampered file really differs from the good one
assert_differs() {
	cmp -s "$1" "$2" && fail "$2 is the same as $1: the test would feed a good bundle"
	return 0
}

good_dir good
pack_bundle "$T_WORK/good" "$m/good.enc"
# The signed header of every hostile bundle describes this good delta; what the image holds
# instead is what the engine meets after unlocking.
GOOD_SB=$T_WORK/good/delta/superblock
part_size=$(stat -c %s "$T_WORK/good/delta/0")
say "v1 -> v2 delta: part 0 is $part_size bytes, superblock $(stat -c %s "$T_WORK/good/delta/superblock")"

# `delta` itself a symlink: to /, and to a guest directory that holds a good signed delta (an
# engine that followed it would install from outside the bundle).
mkdir -p "$T_WORK/delta-root"
printf 'hand-made test bundle\n' >"$T_WORK/delta-root/manifest"
cp -a "$T_WORK/delta-root" "$T_WORK/delta-trap"
ln -s / "$T_WORK/delta-root/delta"
ln -s "$TRAP" "$T_WORK/delta-trap/delta"
pack_bundle "$T_WORK/delta-root" "$m/delta-symlink-root.enc" "$GOOD_SB"
pack_bundle "$T_WORK/delta-trap" "$m/delta-symlink-guest-dir.enc" "$GOOD_SB"

# delta/superblock: a symlink to /dev/zero, a FIFO, 12 MiB
good_dir sb-zero
ln -sf /dev/zero "$T_WORK/sb-zero/delta/superblock"
pack_bundle "$T_WORK/sb-zero" "$m/superblock-dev-zero.enc" "$GOOD_SB"
good_dir sb-fifo
rm "$T_WORK/sb-fifo/delta/superblock"
mkfifo "$T_WORK/sb-fifo/delta/superblock"
pack_bundle "$T_WORK/sb-fifo" "$m/superblock-fifo.enc" "$GOOD_SB"
good_dir sb-huge
{ printf OSTSGNDT; head -c $((12 * 1024 * 1024)) /dev/urandom; } >"$T_WORK/sb-huge/delta/superblock"
pack_bundle "$T_WORK/sb-huge" "$m/superblock-12mib.enc" "$GOOD_SB"

# Part 0: a symlink to /, a FIFO, a device node (the numbers of /dev/null)
good_dir part-root
ln -sf / "$T_WORK/part-root/delta/0"
pack_bundle "$T_WORK/part-root" "$m/part-symlink-root.enc" "$GOOD_SB"
good_dir part-fifo
rm "$T_WORK/part-fifo/delta/0"
mkfifo "$T_WORK/part-fifo/delta/0"
pack_bundle "$T_WORK/part-fifo" "$m/part-fifo.enc" "$GOOD_SB"
good_dir part-dev
rm "$T_WORK/part-dev/delta/0"
mknod "$T_WORK/part-dev/delta/0" c 1 3
pack_bundle "$T_WORK/part-dev" "$m/part-device.enc" "$GOOD_SB"

# Part 0 swapped for the part of another delta (v2 -> v3), cut or padded to the signed size.
delta_dir "$T_WORK/other" --from="$VM_COMMIT_2" --to="$VM_COMMIT_3"
good_dir swapped
cp "$T_WORK/other/delta/0" "$T_WORK/swapped/delta/0"
truncate -s "$part_size" "$T_WORK/swapped/delta/0"
assert_differs "$T_WORK/good/delta/0" "$T_WORK/swapped/delta/0"
pack_bundle "$T_WORK/swapped" "$m/part-swapped.enc" "$GOOD_SB"

# The bomb: libostree's part format ('x', then an xz stream) of 64 MiB of zeros, cut to the
# signed size of part 0; it expands to megabytes before the stream ends.
good_dir bomb
{ printf x; head -c $((64 * 1024 * 1024)) /dev/zero | xz -9 -T1; } >"$T_WORK/bomb/delta/0"
truncate -s "$part_size" "$T_WORK/bomb/delta/0"
assert_differs "$T_WORK/good/delta/0" "$T_WORK/bomb/delta/0"
bomb_expands=$({ tail -c +2 "$T_WORK/bomb/delta/0" | xz -dc 2>/dev/null || true; } | wc -c)
say "xz bomb: $part_size bytes expand to $bomb_expands bytes"
[ "$bomb_expands" -gt $((100 * part_size)) ] || fail "the bomb expands to only $bomb_expands bytes"
pack_bundle "$T_WORK/bomb" "$m/xz-bomb.enc" "$GOOD_SB"

"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs ext4 "$m"/*

guest_setup
g mkdir -p "$TRAP"
"$VM" copy-in "$T_WORK/good/delta/superblock" "$TRAP/superblock"
"$VM" copy-in "$T_WORK/good/delta/0" "$TRAP/0"
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)

# full_state: state, and the private apply directories in the repository
full_state() {
	state
	# shellcheck disable=SC2016 # expanded by the guest's shell
	g sh -c 'echo apply dirs: $(ls -d /ostree/repo/tmp/mediaupd-apply-* 2>/dev/null | wc -l)'
}
full_state >"$T_WORK/before"
grep -q '^apply dirs: 0$' "$T_WORK/before" || fail "an apply directory is there before the tests"

# run_engine NAME: apply NAME in the guest within 120 s; prints the result line, then the
# engine's write counters from /proc/PID/io (a shell counts the children it has reaped)
run_engine() {
	g timeout 120 sh -c "mediaupdctl apply --local '$mnt/$1' --json --config $GUEST_CONF \
		>/run/engine.out; echo \$? >/run/engine.rc
		grep -E '^(wchar|write_bytes):' /proc/\$\$/io >/run/engine.io" ||
		fail "$1: the engine did not finish within 120 s"
	g tail -n 1 /run/engine.out
}

# refused NAME: CorruptDelta, a 'refused' journal event, nothing changed, nothing left
refused() {
	local name=$1 result events
	result=$(run_engine "$name")
	check_eq "$name: exit status" "$(g cat /run/engine.rc)" 1
	check_eq "$name: error" "$(json_field "$result" error)" CorruptDelta
	events=$(g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID="$REFUSED_ID" \
		MEDIAUPD_BUNDLE="$mnt/$name")
	grep -qx CorruptDelta <<<"$events" || fail "$name: no 'refused' journal event with CorruptDelta"
	full_state >"$T_WORK/after"
	diff -u "$T_WORK/before" "$T_WORK/after" || fail "$name: the system changed"
	echo "ok: $name refused ($(json_field "$result" message)); nothing changed"
}

refused delta-symlink-root.enc
refused delta-symlink-guest-dir.enc
refused superblock-dev-zero.enc
refused superblock-fifo.enc
refused superblock-12mib.enc
refused part-symlink-root.enc
refused part-fifo.enc
refused part-device.enc
refused part-swapped.enc
refused xz-bomb.enc
written=$(g sh -c "sed -n 's/^write_bytes: //p' /run/engine.io")
wchar=$(g sh -c "sed -n 's/^wchar: //p' /run/engine.io")
say "xz bomb: the engine wrote $written bytes to storage, $wchar by write()"
# The superblock and part copies, whole pages, and a little of the engine's own output:
# within the signed size plus 64 KiB, far below what the stream expands to.
[ "$written" -le $((part_size + 65536)) ] ||
	fail "xz bomb: the engine wrote $written bytes, more than the signed part ($part_size)"
[ "$wchar" -le $((part_size + 65536)) ] ||
	fail "xz bomb: the engine wrote $wchar bytes, more than the signed part ($part_size)"
echo "ok: xz bomb: $written bytes written, $part_size signed, $bomb_expands if decompressed"

# The good bundle still installs: timed, and its writes measured (the part copy included).
t0=$(date +%s%N)
result=$(run_engine good.enc)
t1=$(date +%s%N)
check_eq "good bundle: exit status" "$(g cat /run/engine.rc)" 0
check_eq "good bundle: default deployment" "$(default_commit)" "$VM_COMMIT_2"
say "good bundle: install took $(((t1 - t0) / 1000000)) ms; $(g journalctl -o cat \
	MESSAGE_ID=$APPLIED_ID | tail -n 1); engine wrote $(g sh -c \
	"sed -n 's/^write_bytes: //p' /run/engine.io") bytes to storage"
# shellcheck disable=SC2016 # expanded by the guest's shell
g sh -c 'test -z "$(ls -d /ostree/repo/tmp/mediaupd-apply-* 2>/dev/null)"' ||
	fail "good bundle: an apply directory was left"
echo "ok: the good bundle installs after the refusals, nothing left in the repository's tmp"
