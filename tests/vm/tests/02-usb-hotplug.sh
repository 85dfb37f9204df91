#!/bin/bash
# vm test 2: a USB stick image holding a bundle from make-encrypted-bundle.sh is hot-plugged
# over QMP, and udisks2 reports its filesystem within the bound (MEDIAUPD_VM_PLUG_BOUND, 20 s).
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

vm_up
make_bundle "$T_WORK/static-update.bundle.enc"
"$SRC_ROOT/tests/vm/make-stick" "$T_WORK/stick.img" --fs vfat "$T_WORK/static-update.bundle.enc"
latency=$(plug_and_wait usb "$T_WORK/stick.img" stick /dev/sda1 vfat)
echo "ok: udisks2 reported the vfat filesystem $latency s after the plug"
check_eq "filesystem label (udisks2)" "$(g udisksctl info -b /dev/sda1 | sed -n 's/^ *IdLabel: *//p')" UPDATES
drive=$(g udisksctl info -b /dev/sda1 | sed -n "s/^ *Drive: *'\(.*\)'/\1/p")
check_eq "connection bus of the drive (udisks2)" \
	"$(g udisksctl info -d "${drive##*/}" | sed -n 's/^ *ConnectionBus: *//p')" usb
check_eq "udev ID_BUS" "$(g sh -c 'udevadm info -q property -n /dev/sda1 | sed -n s/^ID_BUS=//p')" usb
