#!/bin/bash
# vm test 6: an update by hand with stock ostree: `ostree static-delta apply-offline` of a
# version 1 -> 2 delta and `ostree admin deploy`, then a reboot through the board's boot loader
# boots version 2; the previous boot entry still boots version 1, and the default stays 2.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

vm_up
check_eq "booted commit before the update" "$(booted_commit)" "$VM_COMMIT_1"
delta "$VM_COMMIT_1" "$VM_COMMIT_2" "$T_WORK/delta-1-2"
deploy_by_hand "$T_WORK/delta-1-2" "$VM_COMMIT_2"
g ostree admin status

"$VM" reboot
check_eq "booted commit after the update" "$(booted_commit)" "$VM_COMMIT_2"
check_eq "test OS version after the update" "$(g cat /usr/lib/mediaupd-testos/version)" 2
check_eq "system state on version 2" "$(g systemctl is-system-running)" running

"$VM" reboot --entry 1
check_eq "booted commit from the previous entry" "$(booted_commit)" "$VM_COMMIT_1"
check_eq "test OS version from the previous entry" "$(g cat /usr/lib/mediaupd-testos/version)" 1

"$VM" reboot
check_eq "booted commit from the default entry again" "$(booted_commit)" "$VM_COMMIT_2"
