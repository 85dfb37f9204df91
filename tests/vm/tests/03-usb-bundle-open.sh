#!/bin/bash
# vm test 3: in the guest, real dm-crypt opens the bundle on a hot-plugged USB stick read-only
# through a loop device with one of several keys (wrong keys first), the inner image mounts
# read-only, `mediaupd-bundle verify` verifies delta/superblock, stock ostree applies the delta
# into the system repo (which holds the from-commit); afterwards no mapping, loop device or
# mount is left (guest half: guest/open-bundle.sh).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

vm_up
make_bundle "$T_WORK/static-update.bundle.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs vfat "$T_WORK/static-update.bundle.enc"
plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 vfat >/dev/null
open_bundle /dev/sda1
"$VM" unplug stick
