# shellcheck shell=bash
# The guest image cache (sourced by tests/vm/vm after common.sh).
#
# $VM_CACHE/debs/             .debs downloaded by debootstrap and apt (kept between builds)
# $VM_CACHE/rootfs-KEY1/      stage 1: Debian tree + kernel   (lib/build-rootfs)
# $VM_CACHE/image-KEY2/       stage 2: OSTree archive repo with the test OS versions and the
#                             factory disk image                (lib/build-image)
# KEY1 = hash of lib/build-rootfs (it holds the package list), the suite and the kernel
#        package version; KEY2 = KEY1 + hash of lib/build-image and every file under guest/.
# A stage whose key changed, or whose directory has no DONE stamp, is rebuilt. Every use
# touches DONE; directories of other keys unused for a day are removed after a build.

vm_rootfs_key() {
	local kp
	kp=$(vm_kernel_pkg)
	vm_hash "$VM_LIB/build-rootfs" "suite=$VM_SUITE" "kernel=$kp"
}

vm_image_key() {
	local k1=$1 f files=()
	while IFS= read -r f; do files+=("$f"); done < <(find "$VM_DIR/guest" -type f | LC_ALL=C sort)
	vm_hash "rootfs=$k1" "$VM_LIB/build-image" "os=$VM_OS" "ref=$VM_REF" "${files[@]}"
}

# vm_stage_build NAME KEY CMD...: run CMD with the stage directory as last argument unless
# $VM_CACHE/NAME-KEY/DONE exists; prints the directory
vm_stage_build() {
	local name=$1 key=$2 dir t0 old
	shift 2
	dir=$VM_CACHE/$name-$key
	if [ -f "$dir/DONE" ]; then
		echo "$dir"
		return 0
	fi
	vm_log "building the $name stage (cache key $key, in $VM_CACHE)"
	t0=$(vm_now)
	vm_rm_tree "$dir"
	mkdir -p "$dir"
	if ! "$@" "$dir" >&2; then
		vm_die "building the $name stage failed; the partial result is in $dir"
	fi
	date -u +%FT%TZ >"$dir/DONE"
	vm_log "$name stage built in $(vm_since "$t0") s"
	# other keys of this stage may still be in use by checkouts at other commits (and by
	# their running tests): remove only those unused for a day
	for old in "$VM_CACHE/$name"-*; do
		if [ "$old" = "$dir" ] || [ ! -d "$old" ]; then continue; fi
		if [ -z "$(find "$old" -maxdepth 1 -name DONE -mmin -1440)" ] &&
			[ -z "$(find "$old" -maxdepth 0 -mmin -1440)" ]; then
			vm_rm_tree "$old"
		fi
	done
	echo "$dir"
}

# vm_image_ensure: make sure the cached image is up to date; prints its directory.
# Holds $VM_CACHE/build.lock while it checks and builds.
vm_image_ensure() {
	local k1 k2 rootfs image
	mkdir -p "$VM_CACHE/debs"
	exec {lockfd}>"$VM_CACHE/build.lock"
	if ! flock -n "$lockfd"; then
		vm_log "waiting for another image build to finish ($VM_CACHE/build.lock)"
		flock -w "${MEDIAUPD_VM_LOCK_TIMEOUT:-1800}" "$lockfd" ||
			vm_die "the image build lock $VM_CACHE/build.lock is still held; is a build stuck?"
	fi
	k1=$(vm_rootfs_key)
	k2=$(vm_image_key "$k1")
	if [ -f "$VM_CACHE/image-$k2/DONE" ]; then
		image=$VM_CACHE/image-$k2
		touch "$image/DONE" "$VM_CACHE/rootfs-$k1/DONE" 2>/dev/null || true
	else
		rootfs=$(vm_stage_build rootfs "$k1" "$VM_LIB/build-rootfs" "$VM_CACHE/debs" |
			tail -1)
		[ -f "$rootfs/DONE" ] || exit 1
		image=$(vm_stage_build image "$k2" "$VM_LIB/build-image" "$rootfs" | tail -1)
		[ -f "$image/DONE" ] || exit 1
	fi
	exec {lockfd}>&-
	echo "$image"
}
