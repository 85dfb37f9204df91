#!/bin/bash
# vm test 20: device keys sealed with systemd-creds (host key), used by the daemon under its
# real sandbox:
# - `mediaupdctl keys seal --with-key=host` turns both plain keys into ID.cred and leaves no
#   plain file; `keys list` shows them sealed (host);
# - a USB stick with a 1→2 bundle is plugged: the daemon's worker decrypts the sealed key
#   and deploys version 2, with no plain-key warning and nothing left behind;
# - the credentials replaced by ones sealed with another host secret (another device): a
#   1→3 bundle is NoKey, each credential is logged as not decrypting, and nothing changed.
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/engine-lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/daemon-lib.sh"

KEY_PLAIN_ID=d3b6f0e2a7c94e1b8f5d26a9c0e47b13

vm_up
eng_repo
guest_setup
daemon_install
daemon_conf '[Reboot]' 'Policy=never'

# --- seal -----------------------------------------------------------------------------------
g mediaupdctl keys seal --with-key=host --config "$DAEMON_CONF" ||
	fail "keys seal failed"
check_eq "key directory after seal" "$(g ls /etc/mediaupd/keys | tr '\n' ' ')" \
	"fallback-1.cred main-2026.cred "
g mediaupdctl keys list --config "$DAEMON_CONF" | grep -Eq '^main-2026 +sealed +host ' ||
	fail "keys list: $(g mediaupdctl keys list --config "$DAEMON_CONF")"
echo "ok: both keys sealed with the host key, no plain file left"

# --- the daemon installs with the sealed key -----------------------------------------------
make_update "$T_WORK/b12.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_2"
make_update "$T_WORK/b13.enc" --from "$VM_COMMIT_1" --to "$VM_COMMIT_3"
daemon_stick "$T_WORK/stick12.img" "$T_WORK/b12.enc"
daemon_stick "$T_WORK/stick13.img" "$T_WORK/b13.enc"
"$VM" plug usb "$T_WORK/stick12.img" stick
daemon_wait_state pending-reboot 600
check_eq "PendingCommit" "$(daemon_string PendingCommit)" "$VM_COMMIT_2"
check_eq "LastError" "$(daemon_last_error)" '(ss) "" ""'
[ -z "$(daemon_events "$KEY_PLAIN_ID")" ] || fail "a plain-key warning: $(daemon_events "$KEY_PLAIN_ID")"
echo "ok: installed through the daemon with the sealed key, no plain-key warning"
daemon_clean_after "the install with a sealed key"
"$VM" unplug stick
sleep 2

# --- credentials of another device ---------------------------------------------------------
for id in main-2026 fallback-1; do
	"$VM" copy-in "$KEYS/$id.key" "/var/tmp/$id.key"
	g sh -c "SYSTEMD_CREDENTIAL_SECRET=/var/tmp/other-host.secret systemd-creds encrypt \
		--with-key=host --name=$id /var/tmp/$id.key /etc/mediaupd/keys/$id.cred 2>/dev/null &&
		chmod 0600 /etc/mediaupd/keys/$id.cred && rm -f /var/tmp/$id.key"
done
before=$(state)
"$VM" plug usb "$T_WORK/stick13.img" stick
g timeout 600 sh -c "until busctl get-property ${DAEMON_BUS[*]} LastError | grep -q NoKey; do sleep 1; done" ||
	fail "no NoKey: $(daemon_last_error); $(g journalctl --no-pager -u mediaupd.service | tail -n 20)"
daemon_wait_rest 120
g journalctl --no-pager -b -u mediaupd.service | grep -q "main-2026.cred' does not decrypt on this device" ||
	fail "no log line for the credential that does not decrypt"
check_eq "state after NoKey" "$(state)" "$before"
check_eq "PendingCommit after NoKey" "$(daemon_string PendingCommit)" "$VM_COMMIT_2"
daemon_clean_after "the NoKey refusal"
echo "ok: credentials of another host secret: NoKey, logged, nothing changed"
"$VM" unplug stick
