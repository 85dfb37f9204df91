# shellcheck shell=bash
# Host-side helpers of the daemon's vm tests (sourced after lib.sh and engine-lib.sh): the
# build installed into the running guest as a package would install it (unit, udev rule, bus
# policy, D-Bus activation, tmpfiles, catalog, programs), test drop-ins for the unit, and the
# daemon's state over D-Bus.

DAEMON_BUS=(org.mediaupd.Manager1 /org/mediaupd/Manager1 org.mediaupd.Manager1)
DAEMON_DROPIN=/etc/systemd/system/mediaupd.service.d/50-test.conf

# daemon_install: `meson install` of $MEDIAUPD_BUILD_ROOT into a staging directory, copied
# into the guest and put in place there by guest/install-daemon.sh. The guest image stays as
# it is (it is cached; /usr is read-only under OSTree). Sets DAEMON_CONF, the daemon's
# default configuration file under the build's prefix (its directory made).
daemon_install() {
	local stage=$T_WORK/install prefix
	[ -n "${MEDIAUPD_BUILD_ROOT:-}" ] ||
		fail "MEDIAUPD_BUILD_ROOT is not set: this test needs the project's build (run it with meson test)"
	rm -rf "$stage"
	prefix=$(meson introspect --buildoptions "$MEDIAUPD_BUILD_ROOT" |
		python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
	DESTDIR=$stage meson install -C "$MEDIAUPD_BUILD_ROOT" --no-rebuild --quiet \
		>"$T_WORK/install.log" 2>&1 || {
		cat "$T_WORK/install.log"
		fail "meson install of $MEDIAUPD_BUILD_ROOT failed (is the build complete?)"
	}
	printf '%s\n' "$prefix" >"$stage/PREFIX"
	DAEMON_CONF=$(sed -n 's/^#define MEDIAUPD_SYSCONFDIR "\(.*\)"$/\1/p' "$MEDIAUPD_BUILD_ROOT/config.h")/mediaupd.conf
	# The shipped configuration (every key commented out) is not copied: the test's own,
	# written by daemon_conf, survives an install again after a reboot, as a package
	# manager keeps a changed conffile.
	rm -f "$stage$DAEMON_CONF"
	g rm -rf /var/tmp/mediaupd-install
	"$VM" copy-in "$stage" /var/tmp/mediaupd-install
	g "$GUEST_SRC/tests/vm/tests/guest/install-daemon.sh" /var/tmp/mediaupd-install
	g rm -rf /var/tmp/mediaupd-install
	g mkdir -p "${DAEMON_CONF%/*}"
	say "installed the build (prefix $prefix) into the guest"
}

# daemon_dropin [LINE...]: the unit's test drop-in holds these [Service] lines (none: removed);
# takes effect at the next start
daemon_dropin() {
	if [ $# = 0 ]; then
		g rm -f "$DAEMON_DROPIN"
	else
		g mkdir -p "${DAEMON_DROPIN%/*}"
		g sh -c "printf '%s\n' '[Service]' \"\$@\" >$DAEMON_DROPIN" sh "$@"
	fi
	g systemctl daemon-reload
}

# daemon_prop NAME: a property of the manager, as busctl prints it ("s \"idle\"")
daemon_prop() { g busctl get-property "${DAEMON_BUS[@]}" "$1"; }
# daemon_string NAME: a string property's value
daemon_string() { daemon_prop "$1" | sed -n 's/^s "\(.*\)"$/\1/p'; }

# daemon_wait_state STATE [SECONDS]: until State is STATE
daemon_wait_state() {
	local want=$1 bound=${2:-120}
	g timeout "$bound" sh -c "until busctl get-property ${DAEMON_BUS[*]} State 2>/dev/null |
		grep -qx 's \"$want\"'; do sleep 0.2; done" || {
		g systemctl status --no-pager mediaupd.service || true
		g journalctl --no-pager -u mediaupd.service | tail -n 40 || true
		fail "the daemon did not reach State $want within $bound s (now: $(daemon_prop State 2>&1))"
	}
}

# daemon_wait_rest [SECONDS]: until the daemon is up and does nothing (State idle or
# pending-reboot)
daemon_wait_rest() {
	local bound=${1:-120}
	g timeout "$bound" sh -c "until busctl get-property ${DAEMON_BUS[*]} State 2>/dev/null |
		grep -qx -e 's \"idle\"' -e 's \"pending-reboot\"'; do sleep 0.2; done" || {
		g journalctl --no-pager -u mediaupd.service | tail -n 40 || true
		fail "the daemon did not come to rest within $bound s (State: $(daemon_prop State 2>&1))"
	}
}

# daemon_events ID: the MESSAGE=s of the daemon's journal events with this MESSAGE_ID
daemon_events() {
	g journalctl --no-pager -b -o cat MESSAGE_ID="$1" _SYSTEMD_UNIT=mediaupd.service
}

# daemon_clean: nothing of an install left: no mapping, loop device, inner or stick mount
daemon_clean() {
	g sh -c "echo dm: \$(dmsetup ls | grep -c mediaupd || true);
		echo loops: \$(losetup -n -O NAME | wc -l);
		echo mounts: \$(findmnt -rn -o TARGET | grep -c -e ^/run/mediaupd/ -e ^/media/ -e ^/run/media/ || true)"
}

# daemon_conf [LINE...]: the daemon's configuration ($DAEMON_CONF, set by daemon_install): the
# guest's keys (bundle formats: the default, v2 only), then LINE...; takes effect at the next
# start
daemon_conf() {
	g sh -c "printf '%s\n' '[Keys]' 'Directories=/etc/mediaupd/keys' \
		\"\$@\" >$DAEMON_CONF" sh "$@"
}

# daemon_restart: the daemon again, with the current configuration and drop-in
daemon_restart() {
	g systemctl restart mediaupd.service
	daemon_wait_rest 60
}

# daemon_stick IMAGE BUNDLE: a vfat stick image holding BUNDLE as static-update.bundle.enc
daemon_stick() {
	cp "$2" "$T_WORK/static-update.bundle.enc"
	"$SRC_ROOT/tests/vm/make-stick" "$1" --fs vfat "$T_WORK/static-update.bundle.enc" >/dev/null
}

# daemon_worker_pid: the daemon's worker process (its only child)
daemon_worker_pid() {
	local main
	main=$(g systemctl show -p MainPID --value mediaupd.service)
	g sh -c "pgrep -P $main | head -n 1"
}

# daemon_wait_worker_stopped: until the worker stopped itself at the pause point
# (MEDIAUPD_TEST_PAUSE_AT in a drop-in); prints its PID
daemon_wait_worker_stopped() {
	local pid
	for _ in $(seq 1 600); do
		pid=$(daemon_worker_pid || true)
		if [ -n "$pid" ] && [ "$(g ps -o stat= -p "$pid" | cut -c1)" = T ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.2
	done
	# (to stderr: callers take stdout as the PID)
	{
		g journalctl --no-pager -u mediaupd.service | tail -n 30
		fail "no worker of the daemon stopped at the pause point within 120 s"
	} >&2
}

# daemon_last_error: LastError as busctl prints it ('(ss) "NAME" "MESSAGE"')
daemon_last_error() { daemon_prop LastError; }

# daemon_clean_after WHAT: nothing of the install left, and the daemon active
daemon_clean_after() {
	check_eq "leftovers after $1" "$(daemon_clean | tr '\n' ' ')" "dm: 0 loops: 0 mounts: 0 "
	check_eq "mediaupd.service after $1" "$(g systemctl is-active mediaupd.service)" active
}
