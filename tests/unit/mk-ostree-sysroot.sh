#!/bin/bash
# Builds a small OSTree world in DIR for the engine's host tests, with the stock ostree CLI:
#   DIR/repo           archive repo, ref testos/x86_64/main: v1 then v2 (version metadata,
#                      v2 bound to the ref and newer)
#   DIR/delta/         v1 -> v2 static delta, superblock + part files (not inline)
#   DIR/delta-full/    full (--empty) delta of v2
#   DIR/sysroot/       a sysroot with v1 deployed for OS "testos", kernel arguments set,
#                      and a local change in the deployment's /etc
#   DIR/commits        "v1=<csum>" and "v2=<csum>" lines
# `mk-ostree-sysroot.sh --remove DIR` removes such a DIR (deployments are immutable).
set -euo pipefail

remove_world() {
	if [ -d "$1/sysroot/ostree/deploy" ]; then
		find "$1/sysroot/ostree/deploy" -mindepth 3 -maxdepth 3 -name '*.[0-9]*' \
			-exec chattr -i {} +
	fi
	rm -rf "$1"
}

if [ "$1" = --remove ]; then
	remove_world "$2"
	exit 0
fi
dir=$1
ref=testos/x86_64/main
kver=6.1.0-test

make_tree() {
	local tree=$1 version=$2
	mkdir -p "$tree/usr/bin" "$tree/usr/etc" "$tree/usr/lib/modules/$kver"
	printf 'kernel image stand-in\n' >"$tree/usr/lib/modules/$kver/vmlinuz"
	printf 'initramfs stand-in\n' >"$tree/usr/lib/modules/$kver/initramfs.img"
	printf 'NAME=testos\nID=testos\nPRETTY_NAME="Test OS %s"\nVERSION_ID=%s\n' \
		"$version" "$version" >"$tree/usr/etc/os-release"
	# What the engine reads to tell which OS a tree is for.
	cp "$tree/usr/etc/os-release" "$tree/usr/lib/os-release"
	printf 'hello from %s\n' "$version" >"$tree/usr/bin/hello"
	# Incompressible files: with 1 MiB chunks the delta spans several parts.
	for blob in a b c; do
		head -c 600000 /dev/urandom >"$tree/usr/bin/blob-$blob-$version"
	done
}

remove_world "$dir"
mkdir -p "$dir"
ostree --repo="$dir/repo" init --mode=archive
make_tree "$dir/tree-v1" 1.0
make_tree "$dir/tree-v2" 1.1
v1=$(ostree --repo="$dir/repo" commit -b "$ref" --tree=dir="$dir/tree-v1" \
	--add-metadata-string=version=1.0 --timestamp=2026-01-01T00:00:00Z -s v1)
v2=$(ostree --repo="$dir/repo" commit -b "$ref" --tree=dir="$dir/tree-v2" \
	--add-metadata-string=version=1.1 --bind-ref="$ref" --timestamp=2026-06-01T00:00:00Z -s v2)
printf 'v1=%s\nv2=%s\n' "$v1" "$v2" >"$dir/commits"

mkdir -p "$dir/delta" "$dir/delta-full"
ostree --repo="$dir/repo" static-delta generate --from="$v1" --to="$v2" \
	--min-fallback-size=0 --max-chunk-size=1 --filename="$dir/delta/superblock" >/dev/null 2>&1
ostree --repo="$dir/repo" static-delta generate --empty --to="$v2" \
	--min-fallback-size=0 --filename="$dir/delta-full/superblock" >/dev/null 2>&1

sr=$dir/sysroot
mkdir -p "$sr"
ostree admin init-fs "$sr" >/dev/null
ostree admin os-init --sysroot="$sr" testos >/dev/null
ostree --repo="$sr/ostree/repo" config set sysroot.bootloader none
ostree --repo="$sr/ostree/repo" pull-local "$dir/repo" "$v1" >/dev/null
ostree --repo="$sr/ostree/repo" refs --create="$ref" "$v1"
ostree admin deploy --sysroot="$sr" --os=testos --karg=root=LABEL=testroot \
	--karg=quiet "$ref" >/dev/null
printf 'changed on the device\n' >"$sr/ostree/deploy/testos/deploy/$v1.0/etc/local-change"
