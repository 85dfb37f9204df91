#!/bin/sh
# install-daemon.sh STAGE: puts a staged `meson install` of the build (DESTDIR=STAGE, its
# prefix in STAGE/PREFIX) where the guest's systemd, udev and dbus look for it, and makes
# them read it again. Under OSTree /usr is read-only (/usr/local too, in this image): a
# prefix beneath /usr gets a writable copy of itself in /var bind-mounted over it for this
# boot, so the files are exactly where a package would put them and the image is unchanged.
# What dbus-daemon reads only from /usr/share or /etc goes to /etc.
set -eu

die() {
	echo "install-daemon: $*" >&2
	exit 1
}

stage=${1:?usage: install-daemon.sh STAGE}
prefix=$(cat "$stage/PREFIX")
[ -d "$stage$prefix" ] || die "$stage holds nothing under the prefix $prefix"
mkdir -p "$prefix" 2>/dev/null || true
if ! touch "$prefix/.mediaupd-write-test" 2>/dev/null; then
	case $prefix in
	/usr/*) ;;
	*) die "$prefix is not writable in the guest: set up the build with --prefix=/usr/local" ;;
	esac
	copy=/var/lib/mediaupd-vm-prefix$prefix
	mkdir -p "$copy"
	cp -a "$prefix/." "$copy/"
	mount --bind "$copy" "$prefix"
	touch "$prefix/.mediaupd-write-test" || die "$prefix is still not writable"
fi
rm -f "$prefix/.mediaupd-write-test"
cp -a "$stage$prefix/." "$prefix/"
[ -x "$prefix/sbin/mediaupd" ] || die "the build has no daemon: $prefix/sbin/mediaupd is missing"

# dbus-daemon reads bus policies from /usr/share/dbus-1/system.d and /etc/dbus-1/system.d only;
# udev would read /usr/local/lib/udev/rules.d, /etc is certain on every udev version.
mkdir -p /etc/dbus-1/system.d /etc/udev/rules.d
cp "$prefix/share/dbus-1/system.d/org.mediaupd.Manager1.conf" /etc/dbus-1/system.d/
cp "$prefix/lib/udev/rules.d/90-mediaupd.rules" /etc/udev/rules.d/

systemctl daemon-reload
udevadm control --reload
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
systemd-tmpfiles --create "$prefix/lib/tmpfiles.d/mediaupd.conf"
journalctl --update-catalog

systemctl cat mediaupd.service >/dev/null || die "systemd does not find mediaupd.service"
