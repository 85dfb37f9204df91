#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest side of bench/format-bench.sh: the hand-run pipeline, the reference an install by the
# engine is compared with. Installs the bundle FILE with stock tools only, as root:
# a read-only loop device, `cryptsetup open --readonly` with KEY (a format 2 bundle opens
# the same way: its data segment has a fixed size; dm-verity is not stacked), the inner image
# mounted read-only, `mediaupd-bundle verify` of the signed superblock against TRUSTED,
# `ostree static-delta apply-offline`, `ostree reset REF COMMIT`, `ostree admin deploy`; then
# unmount, close and detach. Prints nothing but errors.
# Usage: manual-install.sh FILE KEY TRUSTED OS REF COMMIT
set -euo pipefail

file=$1 key=$2 trusted=$3 os=$4 ref=$5 commit=$6
name=mu-bench-manual
mnt=/run/$name

loop=$(losetup --read-only --find --show "$file")
cryptsetup open --readonly --key-file "$key" "$loop" "$name"
mkdir -p "$mnt"
mount -o ro,nosuid,nodev,noexec "/dev/mapper/$name" "$mnt"
mediaupd-bundle verify --trusted "$trusted" "$mnt/delta/superblock" >/dev/null
ostree static-delta apply-offline "$mnt/delta"
umount "$mnt"
cryptsetup close "$name"
losetup -d "$loop"
ostree reset "$ref" "$commit"
ostree admin deploy --os="$os" "$ref" >/dev/null
