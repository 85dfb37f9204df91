#!/bin/bash
# vm suite, first step: bring the guest image cache up to date (a cold machine builds it here:
# debootstrap, kernel, test OS commits, factory disk), so that its time is not charged to a test.
set -euo pipefail
if [ "${MEDIAUPD_SKIP_VM_TESTS:-0}" = 1 ]; then
	echo "SKIP: MEDIAUPD_SKIP_VM_TESTS=1 asks to skip the QEMU guest tests"
	exit 77
fi
vm=$(dirname "$0")/../vm
t0=$SECONDS
"$vm" build
"$vm" info
echo "# image cache up to date in $((SECONDS - t0)) s"
