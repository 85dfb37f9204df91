#!/bin/bash
# vm test 12: the engine's OS and downgrade rules on the OSTree-booted guest, in one boot.
# Booted v1, a v1 -> v3 bundle installs (v3 pending, not booted); then, each from an ext4
# stick: the same bundle again (AlreadyInstalled), a v2 bundle, newer than what runs but older
# than the pending v3 (Downgrade), a commit bound to no ref whose tree's os-release names
# another OS (WrongOs in the check, before the unlock: the format 2 signed header names the
# tree's OS, so nothing reaches the repository), a ref binding of the wrong GVariant type
# (CorruptDelta, in the delta read after the unlock), an unbound commit of this
# OS with [Update] RequireBindings=true (WrongOs); and without it the same bundle installs.
# For each refusal: the exit status, the error name, the phase, the 'refused' journal event,
# and that nothing changed (deployments, ref, boot configuration, no mapping, loop or mount).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"

REFUSED_ID=074dea9ae51f8bcec426499edd32dff9
m=$T_WORK/media
mkdir -p "$m"

vm_up
eng_repo
now=$(date -u +%FT%TZ)

# os_overlay DIR SED: usr/lib/os-release of v3 changed by the sed script SED, in DIR
os_overlay() {
	mkdir -p "$1/usr/lib"
	ostree --repo="$ENG_REPO" cat "$VM_COMMIT_3" /usr/lib/os-release | sed "$2" >"$1/usr/lib/os-release"
	chmod 644 "$1/usr/lib/os-release"
	find "$1" -type d -exec chmod 755 {} +
}

make_update "$m/v3.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3"
make_update "$m/v2.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
# Bound to no ref (ostree commit binds the branch unless told not to): only the tree says
# which OS these are for. The guest's os-release ID is that of its Debian tree.
os_id=$(ostree --repo="$ENG_REPO" cat "$VM_COMMIT_3" /usr/lib/os-release | sed -n 's/^ID=//p')
if [ -z "$os_id" ] || [ "$os_id" = otheros ]; then
	fail "the test OS has no usable os-release ID ('$os_id')"
fi
os_overlay "$T_WORK/ov-other" 's/^ID=.*/ID=otheros/'
other=$(eng_commit mediaupd-testos/x86_64/other "$VM_COMMIT_3" 9.0 "$now" --no-bindings \
	--tree=dir="$T_WORK/ov-other")
[ "$(ostree --repo="$ENG_REPO" cat "$other" /usr/lib/os-release | sed -n 's/^ID=//p')" = otheros ] ||
	fail "the other-OS commit does not name OS otheros"
ENG_REF=mediaupd-testos/x86_64/other make_update "$m/other-os.enc" --from "$VM_COMMIT_1" \
	--to "$other"
os_overlay "$T_WORK/ov-same" 's/^PRETTY_NAME=.*/PRETTY_NAME="unbound test commit"/'
same=$(eng_commit mediaupd-testos/x86_64/same "$VM_COMMIT_3" 9.1 "$now" --no-bindings \
	--tree=dir="$T_WORK/ov-same")
ENG_REF=mediaupd-testos/x86_64/same make_update "$m/unbound.enc" --from "$VM_COMMIT_1" \
	--to "$same"
for c in "$other" "$same"; do
	if ostree --repo="$ENG_REPO" show --print-metadata-key=ostree.ref-binding "$c" >/dev/null 2>&1; then
		fail "commit $c has a ref binding"
	fi
done
# A ref binding that is a string, not a list of strings. The bundle maker refuses to pack
# such a commit, so this one is made by hand.
badtype=$(eng_commit mediaupd-testos/x86_64/badtype "$VM_COMMIT_3" 9.2 "$now" --no-bindings \
	"--add-metadata=ostree.ref-binding='$VM_REF'")
check_eq "badtype: binding type" \
	"$(ostree --repo="$ENG_REPO" show --print-metadata-key=ostree.ref-binding "$badtype")" "'$VM_REF'"
delta_dir "$T_WORK/badtype" --from="$VM_COMMIT_1" --to="$badtype"
sign_dir "$T_WORK/badtype" "$KEYS/example-signing.secret"
# The signing tools refuse to describe such a commit in a signed header, so the header is
# that of the (policy-passing) unbound update, and the image holds the bad delta: the engine
# meets the binding when it reads the delta after unlocking.
delta_dir "$T_WORK/badtype-header" --from="$VM_COMMIT_1" --to="$same"
sign_dir "$T_WORK/badtype-header" "$KEYS/example-signing.secret"
ENG_REF=mediaupd-testos/x86_64/same pack_bundle "$T_WORK/badtype" "$m/badtype.enc" \
	"$T_WORK/badtype-header/delta/superblock"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs ext4 "$m"/*

guest_setup
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 ext4 >/dev/null
g udisksctl mount -b /dev/sda1 -o ro,nosuid,nodev,noexec >/dev/null
mnt=$(g findmnt -n -o TARGET --source /dev/sda1 | head -n 1)
check_eq "booted commit" "$(booted_commit)" "$VM_COMMIT_1"

# objects: the sysroot repository's objects, one checksum for all their names
objects() { g sh -c 'cd /ostree/repo/objects && find . -type f | sort | md5sum'; }
# deployments: how many deployments there are
deployments() { g ostree admin status | grep -c '^[* ] [^ ]'; }

# installs NAME TO: applying NAME succeeds and makes TO the default deployment
installs() {
	local result t0=$SECONDS
	result=$(apply "$mnt/$1") || fail "the engine refused $1: $result"
	check_eq "$1: success" "$(json_field "$result" success)" True
	check_eq "$1: default deployment" "$(default_commit)" "$2"
	echo "ok: $1 installed in $((SECONDS - t0)) s"
}

# refused NAME ERROR PHASE [IN_MESSAGE]: applying NAME fails with ERROR in PHASE, logs a
# 'refused' event, changes nothing, and its message holds IN_MESSAGE
refused() {
	local name=$1 want=$2 phase=$3 in_message=${4:-} result rc=0 events t0=$SECONDS
	state >"$T_WORK/before"
	result=$(apply "$mnt/$name") || rc=$?
	[ "$rc" = 1 ] || fail "$name: expected exit status 1, got $rc ($result)"
	check_eq "$name: error" "$(json_field "$result" error)" "$want"
	check_eq "$name: phase" "$(json_field "$result" phase)" "$phase"
	case $(json_field "$result" message) in
	*"$in_message"*) ;;
	*) fail "$name: the message does not say '$in_message': $(json_field "$result" message)" ;;
	esac
	events=$(g journalctl -o cat --output-fields=MEDIAUPD_ERROR MESSAGE_ID="$REFUSED_ID" \
		MEDIAUPD_BUNDLE="$mnt/$name")
	grep -qx "$want" <<<"$events" || fail "$name: no journal event $REFUSED_ID with $want"
	state >"$T_WORK/after"
	diff -u "$T_WORK/before" "$T_WORK/after" || fail "$name: the system changed"
	echo "ok: $name refused in $((SECONDS - t0)) s ($want: $(json_field "$result" message)); nothing changed"
}

# v3 installed, not booted: it is the pending deployment.
installs v3.enc "$VM_COMMIT_3"
check_eq "booted commit after installing v3" "$(booted_commit)" "$VM_COMMIT_1"
n=$(deployments)
check_eq "deployments with v3 pending" "$n" 2

refused v3.enc AlreadyInstalled check "starts at the next boot"
check_eq "deployments after v3 again" "$(deployments)" "$n"
refused v2.enc Downgrade check "the update already installed for the next boot"

objects_before=$(objects)
refused other-os.enc WrongOs check "names OS 'otheros', this device runs '$os_id'"
check_eq "other-os: repository objects" "$(objects)" "$objects_before"
# Format 2: the signed header names the tree's OS, so the refusal comes before the unlock and
# nothing is written to the repository (format 1 applied first, then removed the objects).
if g journalctl -o cat SYSLOG_IDENTIFIER=mediaupd | grep "that no ref or deployment reaches"; then
	fail "other-os: objects were written and removed again: the refusal came after the apply"
fi
if g ostree show "$other" >/dev/null 2>&1; then
	fail "other-os: the refused commit $other is in the repository"
fi
echo "ok: the refused commit never reached the repository"

refused badtype.enc CorruptDelta verify "'ostree.ref-binding' of type 's', not 'as'"

g sh -c "printf '%s\n' '[Update]' 'RequireBindings=true' >>$GUEST_CONF"
objects_before=$(objects)
refused unbound.enc WrongOs check "RequireBindings=true"
check_eq "require-bindings: repository objects" "$(objects)" "$objects_before"
g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' >$GUEST_CONF"

# The same bundle without the requirement: its tree is for this OS, so it installs, and
# replaces the pending v3.
installs unbound.enc "$same"
check_eq "deployments after the unbound commit" "$(deployments)" 2
check_eq "ref" "$(g ostree rev-parse "$VM_REF")" "$same"
