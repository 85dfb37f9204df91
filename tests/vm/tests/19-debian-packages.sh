#!/bin/bash
# vm test 19: the Debian package `mediaupd`, installed into the guest with dpkg the way a
# device's image gets it, in one boot:
# - the packages are built by .ci/build-debs into $MEDIAUPD_BUILD_ROOT/debs (reused when that
#   directory already holds the packages of the same sources; .ci/run's package step then
#   reuses them for lintian and check-debs); every Depends of the package is installed in
#   the guest (dpkg -s), and `dpkg -i` installs it;
# - the postinst did its work: mediaupd.service and mediaupd-boot-ok.target enabled, the
#   daemon started from /usr/sbin/mediaupd, the udev rule, bus policy, activation file and
#   journal catalog in place and read (`journalctl --list-catalog` lists every id of the
#   package's catalog), the shipped configuration a conffile;
# - the device's keys provisioned as docs/integrator.md says (/etc/mediaupd/keys, the trusted
#   signing key in /etc/ostree/trusted.ed25519.d), the daemon stopped, a D-Bus property read
#   activates it; stopped again, a USB stick with a v2 1→2 bundle starts it through the udev
#   rule and version 2 is deployed under the shipped configuration (State pending-reboot,
#   PendingCommit over D-Bus and in `mediaupdctl status --json`, the deployed event);
# - `dpkg --purge mediaupd`: no file of `dpkg -L` (taken before) is left, every directory of
#   the package that was not there before the install is gone, no unit enabled or known to
#   systemd, no deb-systemd-helper state, no process, no mapping, loop device or mount, the
#   catalog ids gone, /var/lib/mediaupd and /run/mediaupd gone; a stick plugged now starts
#   nothing; /etc/mediaupd holds exactly the keys the test put there (purge never deletes
#   a device's keys: debian/mediaupd.postrm); installed again and purged with the keys
#   removed first, /etc/mediaupd is gone.
#
# Two things differ from a device. The package goes into the OS image that a bundle deploys
# (the image builder runs dpkg on the tree before the commit), not into the running system:
# here /usr is read-only under OSTree, so `ostree admin unlock` puts a transient writable
# overlay on it for this boot (gone at the next boot; the deployment is unchanged). And the
# guest image drops /var from its commits (it belongs to the stateroot), dpkg's database with
# it: the test restores the database of the Debian tree the image was made from (stage 1 of
# the cache, `vm info` VM_ROOTFS_DIR) into the guest's /var/lib/dpkg, so that dpkg knows what
# the image holds and runs the triggers of systemd and dbus as on a Debian system.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

[ -n "${MEDIAUPD_BUILD_ROOT:-}" ] ||
	fail "MEDIAUPD_BUILD_ROOT is not set: this test needs the project's build (run it with meson test)"
MU_IDS=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$SRC_ROOT/systemd/mediaupd.catalog")
[ -n "$MU_IDS" ] || fail "no message id in systemd/mediaupd.catalog"
CTL=/usr/bin/mediaupdctl

# --- the packages and the bundle, before the guest boots --------------------------------------
DEBS=$MEDIAUPD_BUILD_ROOT/debs
t0=$SECONDS
env -u G_DEBUG -u G_TEST_SRCDIR -u G_TEST_BUILDDIR -u MEDIAUPD_SOURCE_ROOT -u MEDIAUPD_BUILD_ROOT \
	bash "$SRC_ROOT/.ci/build-debs" --no-lintian "$DEBS" >"$T_WORK/build-debs.log" 2>&1 || {
	cat "$T_WORK/build-debs.log"
	fail ".ci/build-debs failed"
}
grep '^build-debs:' "$T_WORK/build-debs.log" || true
say "packages ready in $((SECONDS - t0)) s"
debs=("$DEBS"/mediaupd_*.deb)
# shellcheck disable=SC2015 # (fail exits)
[ "${#debs[@]}" = 1 ] && [ -f "${debs[0]}" ] ||
	fail "not one mediaupd_*.deb in $DEBS: ${debs[*]}"
DEB=${debs[0]}
GDEB=/var/tmp/debs/${DEB##*/}
depends=$(dpkg-deb -f "$DEB" Depends)

eval "$("$VM" info)"
[ -f "$VM_ROOTFS_DIR/tree/var/lib/dpkg/status" ] ||
	fail "the image's Debian tree has no dpkg database ($VM_ROOTFS_DIR/tree/var/lib/dpkg/status)"
eng_repo
make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
daemon_stick "$T_WORK/stick12.img" "$T_WORK/b12.enc"

vm_up
boot0=$(g cat /proc/sys/kernel/random/boot_id)

# --- dpkg in the guest: the image's database, the package's dependencies, /usr writable ------
# (one tar file: a thousand small files over the 9p share take minutes under TCG)
tar -C "$VM_ROOTFS_DIR/tree/var/lib" -cf "$T_WORK/dpkg-db.tar" dpkg
"$VM" copy-in "$T_WORK/dpkg-db.tar" /var/tmp/dpkg-db.tar
g sh -c 'tar -C /var/lib -xf /var/tmp/dpkg-db.tar && rm /var/tmp/dpkg-db.tar'
# pkg_status PACKAGE: what dpkg's database says of PACKAGE (installed, config-files, ...; absent)
# (purged, a package dpkg still knows of is not-installed: absent as well)
pkg_status() {
	g sh -c "dpkg-query -W -f='\${db:Status-Status}' '$1' 2>/dev/null || echo absent" |
		sed 's/^not-installed$/absent/'
}
check_eq "mediaupd in dpkg's database before the install" "$(pkg_status mediaupd)" absent
missing=
while IFS= read -r dep; do
	# an alternative "a | b" is met by either; a version constraint is dpkg -i's to check
	ok=0
	for alt in ${dep//|/ }; do
		case $alt in \(* | *\) | =* | \>* | \<*) continue ;; esac
		[ "$(pkg_status "${alt%%:*}")" = installed ] && ok=1
	done
	[ "$ok" = 1 ] || missing+=" '$dep'"
done < <(tr ',' '\n' <<<"$depends" | sed -e 's/^ *//' -e 's/ *$//' | grep -v '^$')
[ -z "$missing" ] || fail "the guest image lacks runtime dependencies of mediaupd:$missing"
echo "ok: every Depends of mediaupd is installed in the guest ($depends)"

g ostree admin unlock >/dev/null
g sh -c 'touch /usr/.mediaupd-write-test && rm /usr/.mediaupd-write-test' ||
	fail "/usr is not writable after ostree admin unlock"
g ostree admin status | grep -q 'Unlocked: development' ||
	fail "ostree admin status does not show the booted deployment unlocked"

"$VM" copy-in "$DEB" "$GDEB"
# every path of the package (as dpkg-deb lists it) and which of them are there already
g sh -c "dpkg-deb --fsys-tarfile $GDEB | tar -t | sed -e 's|^\./|/|' -e 's|/\$||' | grep -v '^\$'" \
	>"$T_WORK/deb-paths"
[ -s "$T_WORK/deb-paths" ] || fail "dpkg-deb lists no path of $GDEB"
"$VM" copy-in "$T_WORK/deb-paths" /var/tmp/deb-paths
# present LIST: the paths of the guest file LIST that exist (a dangling symlink counts)
present() {
	g sh -c "while IFS= read -r p; do if [ -e \"\$p\" ] || [ -L \"\$p\" ]; then echo \"\$p\"; fi; done <$1"
}
present /var/tmp/deb-paths >"$T_WORK/present.before"
# what else an install touches, by name: /etc (units enabled, udev, dbus, the configuration),
# /var/lib (the daemon's state, deb-systemd-helper's, dpkg's), /run (the runtime directory);
# less the runtime state of systemd, udev, dbus and udisks2, and the test bed's own
SYSTEM_DIRS="/etc /var/lib /var/cache /run"
system_snapshot() {
	g sh -c "find $SYSTEM_DIRS -xdev -maxdepth 6 \( -path /run/mediaupd-vm -o -path /run/udev \
		-o -path /run/systemd -o -path /run/user -o -path /run/dbus -o -path /run/log \
		-o -path /var/lib/udisks2 \) -prune -o -print 2>/dev/null |
		grep -i mediaupd | grep -v -e '^/run/mediaupd-vm' -e '^/var/lib/mediaupd-vm' | sort"
}
system_snapshot >"$T_WORK/system.before"

# --- install ---------------------------------------------------------------------------------
t0=$SECONDS
g dpkg -i "$GDEB" >"$T_WORK/dpkg-install.log" 2>&1 || {
	cat "$T_WORK/dpkg-install.log"
	fail "dpkg -i $GDEB failed"
}
say "dpkg -i in $((SECONDS - t0)) s"
check_eq "mediaupd in dpkg's database after the install" "$(pkg_status mediaupd)" installed
for unit in mediaupd.service mediaupd-boot-ok.target; do
	check_eq "systemctl is-enabled $unit" "$(g systemctl is-enabled "$unit" || true)" enabled
done
# the postinst's start is synchronous: the unit is active (not still activating, not restarting
# after a failed first start) once dpkg -i returns
g journalctl -b --no-pager -o short-monotonic -u mediaupd.service -u dbus.service \
	>"$T_WORK/journal-install.log" 2>&1 || true
# install_fail MESSAGE: dpkg's and the journal's record of the install, then fail
install_fail() {
	cat "$T_WORK/dpkg-install.log" "$T_WORK/journal-install.log"
	fail "$1"
}
state=$(g systemctl is-active mediaupd.service || true)
[ "$state" = active ] ||
	install_fail "mediaupd.service after the install: expected 'active', got '$state'"
! grep -q 'Could not execute systemctl' "$T_WORK/dpkg-install.log" ||
	install_fail "the postinst's systemctl start failed (the unit came up only on a restart)"
echo "ok: mediaupd.service after the install = 'active', started by the postinst at the first try"
main=$(g systemctl show -p MainPID --value mediaupd.service)
check_eq "the daemon's program" "$(g readlink "/proc/$main/exe")" /usr/sbin/mediaupd
check_eq "the unit's ExecStart" "$(g systemctl show -p ExecStart --value mediaupd.service |
	sed -n 's/^{ path=\([^ ;]*\) .*/\1/p')" /usr/sbin/mediaupd
# installed FILE SOURCE: FILE is the package's and holds the source tree's SOURCE
installed() {
	check_eq "package owning $1" "$(g dpkg -S "$1" | cut -d: -f1)" mediaupd
	g cmp "$1" "$GUEST_SRC/systemd/$2" || fail "$1 is not systemd/$2 of the source tree"
}
installed /lib/udev/rules.d/90-mediaupd.rules 90-mediaupd.rules
installed /usr/share/dbus-1/system.d/org.mediaupd.Manager1.conf org.mediaupd.Manager1.conf
installed /usr/lib/systemd/catalog/mediaupd.catalog mediaupd.catalog
installed /usr/lib/tmpfiles.d/mediaupd.conf mediaupd.tmpfiles
activation=/usr/share/dbus-1/system-services/org.mediaupd.Manager1.service
check_eq "package owning $activation" "$(g dpkg -S "$activation" | cut -d: -f1)" mediaupd
g grep -qx 'SystemdService=mediaupd.service' "$activation" ||
	fail "$activation does not have systemd start mediaupd.service: $(g cat "$activation")"
g sh -c "dpkg-query -W -f='\${Conffiles}' mediaupd" | grep -q '^ /etc/mediaupd/mediaupd.conf ' ||
	fail "/etc/mediaupd/mediaupd.conf is not a conffile of the installed package"
echo "ok: /etc/mediaupd/mediaupd.conf is a conffile"
g journalctl --list-catalog >"$T_WORK/catalog"
for id in $MU_IDS; do
	grep -q "^$id " "$T_WORK/catalog" || fail "journalctl --list-catalog does not list $id"
done
echo "ok: journalctl --list-catalog lists the $(wc -w <<<"$MU_IDS") ids of mediaupd.catalog"
check_eq "State over D-Bus after the install" "$(daemon_string State)" idle

# --- provisioning, D-Bus activation, plug -----------------------------------------------------
"$VM" copy-in "$KEYS/main-2026.key" /etc/mediaupd/keys/main-2026.key
"$VM" copy-in "$KEYS/fallback-1.key" /etc/mediaupd/keys/fallback-1.key
g chmod 0600 /etc/mediaupd/keys/main-2026.key /etc/mediaupd/keys/fallback-1.key
"$VM" copy-in "$KEYS/example-signing.pub" /etc/ostree/trusted.ed25519.d/example.pub
g systemctl stop mediaupd.service
check_eq "State read with the daemon stopped (D-Bus activation)" "$(daemon_string State)" idle
check_eq "mediaupd.service after the property read" "$(g systemctl is-active mediaupd.service || true)" active
g systemctl stop mediaupd.service
check_eq "mediaupd.service before the plug" "$(g systemctl is-active mediaupd.service || true)" inactive
t0=$SECONDS
"$VM" plug usb "$T_WORK/stick12.img" stick
g timeout 60 sh -c 'until systemctl is-active --quiet mediaupd.service; do sleep 0.2; done' ||
	fail "the package's udev rule did not start mediaupd.service within 60 s of the plug"
echo "ok: the plug started mediaupd.service"
daemon_wait_state pending-reboot 600
say "USB stick plugged -> deployed in $((SECONDS - t0)) s"
check_eq "PendingCommit" "$(daemon_string PendingCommit)" "$VM_COMMIT_2"
check_eq "LastError" "$(daemon_last_error)" '(ss) "" ""'
check_eq "deployment 0" "$(default_commit)" "$VM_COMMIT_2"
check_eq "booted" "$(booted_commit)" "$VM_COMMIT_1"
status=$(g "$CTL" status --json) || fail "$CTL status --json failed: $status"
check_eq "mediaupdctl status: state" "$(json_field "$status" state)" pending-reboot
check_eq "mediaupdctl status: pending_commit" "$(json_field "$status" pending_commit)" "$VM_COMMIT_2"
daemon_events a4e6b84b811cddf92a52a9a044444c78 | grep -q "$VM_COMMIT_2" ||
	fail "no deployed event naming $VM_COMMIT_2 in the journal"
echo "ok: the deployed event in the journal"
daemon_clean_after "the install"

# --- purge -----------------------------------------------------------------------------------
# purge WHAT: dpkg -L taken, then dpkg --purge mediaupd
purge() {
	# (less the "/." dpkg prints first)
	g dpkg -L mediaupd | grep -vx '/\.' >"$T_WORK/dpkg-L"
	[ -s "$T_WORK/dpkg-L" ] || fail "dpkg -L mediaupd lists nothing"
	g dpkg --purge mediaupd >"$T_WORK/dpkg-purge.log" 2>&1 || {
		cat "$T_WORK/dpkg-purge.log"
		fail "dpkg --purge mediaupd ($1) failed"
	}
	check_eq "mediaupd in dpkg's database after the purge ($1)" "$(pkg_status mediaupd)" absent
}

# purged WHAT [KEEP...]: nothing of the package is left but the paths KEEP (the device's
# keys and their directories, which are not the package's)
purged() {
	local what=$1 unit enabled reply
	shift
	printf '%s\n' "$@" >"$T_WORK/keep"
	"$VM" copy-in "$T_WORK/dpkg-L" /var/tmp/dpkg-L
	# what dpkg -L listed, less what was there before the install (/usr, /etc, ...)
	present /var/tmp/dpkg-L | grep -vxF -f "$T_WORK/present.before" |
		grep -vxF -f "$T_WORK/keep" >"$T_WORK/left" || true
	[ ! -s "$T_WORK/left" ] ||
		fail "left after the purge ($what), of dpkg -L mediaupd: $(tr '\n' ' ' <"$T_WORK/left")"
	echo "ok: nothing of dpkg -L mediaupd ($(wc -l <"$T_WORK/dpkg-L") paths) left ($what) but what was there before"
	present /var/tmp/deb-paths | grep -vxF -f "$T_WORK/keep" >"$T_WORK/present.after" || true
	diff "$T_WORK/present.before" "$T_WORK/present.after" ||
		fail "the package's paths present after the purge ($what) differ from before the install (diff above)"
	echo "ok: of the package's paths exactly those of before the install are present ($what)"
	system_snapshot >"$T_WORK/system.after"
	sort -u "$T_WORK/system.before" "$T_WORK/keep" | grep -v '^$' >"$T_WORK/system.expected" || true
	diff "$T_WORK/system.expected" "$T_WORK/system.after" ||
		fail "after the purge ($what), what is named mediaupd under $SYSTEM_DIRS differs (diff above: expected, found)"
	echo "ok: nothing named mediaupd under $SYSTEM_DIRS after the purge ($what) but: $*"
	check_eq "/etc/mediaupd after the purge ($what)" \
		"$(g sh -c 'find /etc/mediaupd 2>/dev/null | sort' | tr '\n' ' ')" \
		"$(grep '^/etc/mediaupd' "$T_WORK/keep" | sort | tr '\n' ' ')"
	for unit in mediaupd.service mediaupd-boot-ok.target; do
		if enabled=$(g systemctl is-enabled "$unit" 2>&1); then
			fail "systemctl is-enabled $unit after the purge ($what): $enabled"
		fi
		case $enabled in
		*"No such file or directory"*) echo "ok: $unit has no unit file after the purge ($what)" ;;
		*) fail "systemctl is-enabled $unit after the purge ($what): '$enabled', expected no such file" ;;
		esac
		check_eq "LoadState of $unit after the purge ($what)" \
			"$(g systemctl show -p LoadState --value "$unit")" not-found
	done
	check_eq "mediaupd processes after the purge ($what)" \
		"$(g sh -c 'pgrep -c -f "^/usr/sbin/mediaupd( |$)" || true')" 0
	check_eq "leftovers after the purge ($what)" "$(daemon_clean | tr '\n' ' ')" "dm: 0 loops: 0 mounts: 0 "
	g journalctl --list-catalog >"$T_WORK/catalog"
	for id in $MU_IDS; do
		! grep -q "^$id " "$T_WORK/catalog" ||
			fail "journalctl --list-catalog still lists $id after the purge ($what)"
	done
	echo "ok: journalctl --list-catalog lists none of mediaupd's ids after the purge ($what)"
	# the bus name is no longer activatable (the activation file is gone and dbus read that)
	if reply=$(g busctl get-property "${DAEMON_BUS[@]}" State 2>&1); then
		fail "a property read after the purge ($what) was answered: $reply"
	fi
	case $reply in
	*"was not provided by any .service files"* | *"not activatable"*)
		echo "ok: org.mediaupd.Manager1 is not activatable after the purge ($what)" ;;
	*) fail "a property read after the purge ($what) failed otherwise than expected: '$reply'" ;;
	esac
}

purge "the device's keys in place"
# (the stick is pulled only now: the default reboot policy would reboot the guest)
"$VM" unplug stick
g timeout 20 sh -c 'while [ -e /dev/sda1 ]; do sleep 0.1; done' || fail "the stick did not go"
purged "the device's keys in place" /etc/mediaupd /etc/mediaupd/keys \
	/etc/mediaupd/keys/fallback-1.key /etc/mediaupd/keys/main-2026.key
# the udev rule is gone and udev knows: a stick starts nothing
"$VM" plug usb "$T_WORK/stick12.img" stick-after
g timeout 20 sh -c 'until [ -e /dev/sda1 ]; do sleep 0.1; done' || fail "the stick did not appear"
g udevadm settle
sleep 3
check_eq "mediaupd.service after a plug once purged" \
	"$(g systemctl is-active mediaupd.service 2>&1 || true)" inactive
"$VM" unplug stick-after
check_eq "boot id (no reboot)" "$(g cat /proc/sys/kernel/random/boot_id)" "$boot0"

# --- installed again, the keys removed, purged: /etc/mediaupd goes too ------------------------
g dpkg -i "$GDEB" >"$T_WORK/dpkg-install.log" 2>&1 || {
	cat "$T_WORK/dpkg-install.log"
	fail "dpkg -i $GDEB after the purge failed"
}
check_eq "mediaupd in dpkg's database after the second install" "$(pkg_status mediaupd)" installed
check_eq "mediaupd.service after the second install" "$(g systemctl is-active mediaupd.service || true)" active
g rm /etc/mediaupd/keys/main-2026.key /etc/mediaupd/keys/fallback-1.key
purge "no keys"
purged "no keys"
