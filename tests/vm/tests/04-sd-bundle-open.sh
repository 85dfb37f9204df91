#!/bin/bash
# vm test 4: tests 2 and 3 with an SD card: the card (ext4 this time) is inserted into the
# guest's SD slot, udisks2 reports its filesystem within the bound, and the bundle on it is
# opened, verified and applied in the guest exactly as from the USB stick, leaving nothing
# behind. An SD card carries no ID_BUS in udev; it has ID_DRIVE_FLASH_SD=1.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

vm_up
make_bundle "$T_WORK/static-update.bundle.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/card.img" --fs ext4 "$T_WORK/static-update.bundle.enc"
latency=$(plug_and_wait sd "$T_WORK/card.img" card /dev/mmcblk0p1 ext4)
echo "ok: udisks2 reported the ext4 filesystem $latency s after the card was inserted"
check_eq "udev ID_DRIVE_FLASH_SD" \
	"$(g sh -c 'udevadm info -q property -n /dev/mmcblk0p1 | sed -n s/^ID_DRIVE_FLASH_SD=//p')" 1
open_bundle /dev/mmcblk0p1
"$VM" unplug card
g timeout 10 sh -c 'while [ -e /dev/mmcblk0 ]; do sleep 0.1; done' ||
	fail "/dev/mmcblk0 is still there after the card was ejected"
echo "ok: the card is gone after the eject"
