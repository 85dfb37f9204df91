#!/bin/bash
# vm test 1: the guest boots (OSTree-booted, version 1 from the factory), and udev, dbus and
# udisks2 are active; the current build is available in the guest.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

vm_up
check_eq "system state" "$(g systemctl is-system-running)" running
for unit in systemd-udevd.service dbus.service udisks2.service; do
	check_eq "$unit" "$(g systemctl is-active "$unit")" active
done
# the services answer, not only run
g udevadm settle --timeout=60
g udisksctl status >/dev/null || fail "udisks2 does not answer on the system bus"
g busctl --system status org.freedesktop.UDisks2 >/dev/null || fail "org.freedesktop.UDisks2 is not on the system bus"

# booted through ostree-prepare-root into the factory deployment, /usr read-only
g test -e /run/ostree-booted || fail "/run/ostree-booted is missing: not booted by ostree-prepare-root"
check_eq "booted commit" "$(booted_commit)" "$VM_COMMIT_1"
check_eq "test OS version" "$(g cat /usr/lib/mediaupd-testos/version)" 1
if g touch /usr/lib/mediaupd-testos/x 2>/dev/null; then fail "/usr is writable"; fi
echo "ok: /usr is read-only"
check_eq "U-Boot environment from the guest" "$(g fw_printenv -n upgrade_available)" 0

# the current build, without rebuilding the image
if [ -n "${MEDIAUPD_BUILD_ROOT:-}" ]; then
	g mediaupd-bundle --help >/dev/null || fail "the build's mediaupd-bundle does not run in the guest"
	echo "ok: the build's mediaupd-bundle runs in the guest"
fi
