#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Test of the example GitLab CI job docs/examples/gitlab-ci.yml (TAP): its `script:` lines,
# extracted from the YAML as they stand (ci-job-script.py), run as GitLab runs them (one bash
# shell, `set -eo pipefail`, the job's variables exported) as an unprivileged user (nobody,
# via setpriv, when the test runs as root) in a project directory made here: the OSTree
# repository where the job's OSTREE_REPO says, the public signing key where
# SIGNING_PUBLIC_KEY says, and the File variables as GitLab passes them (the variable holds
# the path of a temporary file with the value). The build's mediaupd-bundle and
# make-encrypted-bundle.sh are the only tools added to PATH. Then the artifact must be a
# format 2 bundle that `mediaupd-bundle inspect --trusted` accepts, for the commits asked
# for, that opens with each device key given (and not with another), and no secret may show
# in the job's log or stay on disk. The same job with a broken command must fail.
#
# Environment: MEDIAUPD_BUNDLE (the built mediaupd-bundle), MAKE_BUNDLE_SCRIPT
# (scripts/make-encrypted-bundle.sh), MEDIAUPD_SOURCE_ROOT (default: two levels above this
# file), CI_EXAMPLE (the YAML; default docs/examples/gitlab-ci.yml there).
set -euo pipefail

TOOL=${MEDIAUPD_BUNDLE:?set MEDIAUPD_BUNDLE to the built mediaupd-bundle}
SCRIPT=${MAKE_BUNDLE_SCRIPT:?set MAKE_BUNDLE_SCRIPT to scripts/make-encrypted-bundle.sh}
MEDIAUPD_SOURCE_ROOT=${MEDIAUPD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
YAML=${CI_EXAMPLE:-$MEDIAUPD_SOURCE_ROOT/docs/examples/gitlab-ci.yml}
EXTRACT=$(cd "$(dirname "$0")" && pwd)/ci-job-script.py
readonly JOB=bundle

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

# --- set-up ---------------------------------------------------------------------------------

# field NAME: the job's variable NAME (or `artifacts`) in the YAML
field() {
	python3 "$EXTRACT" "$YAML" "$JOB" --field "$1"
}

setup() {
	W=$(mktemp -d /tmp/mu-test-ci-example.XXXXXXXX)
	trap 'rm -rf -- "$W"' EXIT
	if [ "$(id -u)" = 0 ]; then
		chown "$NOBODY:$NOBODY" "$W"
	fi
	chmod 0700 "$W"
	as_user mkdir -p "$W/bin" "$W/tmp" "$W/home" "$W/vars" "$W/keys" "$W/project"
	install_copy "$TOOL" "$W/bin/mediaupd-bundle"
	install_copy "$SCRIPT" "$W/bin/make-encrypted-bundle.sh"
	python3 -c 'import yaml' || fail "python3-yaml is missing (.ci/install-deps installs it)"
	REPO_REL=$(field OSTREE_REPO)
	REF=$(field OSTREE_REF)
	PUB_REL=$(field SIGNING_PUBLIC_KEY)
	ARTIFACT=$(field artifacts | head -n 1)
	[ -n "$ARTIFACT" ] || fail "the job names no artifact"
	make_repo "$W/project/$REPO_REL"
	make_keys
}

install_copy() {
	cp -- "$1" "$2"
	chmod 0755 "$2"
	chown "$(stat -c %u:%g "$W")" "$2"
}

# make_repo DIR: an archive repository with two commits of REF, V1 and V2
make_repo() {
	as_user mkdir -p "$1" "$W/tree/usr/bin" "$W/tree/usr/lib"
	as_user ostree init --repo="$1" --mode=archive
	as_user bash -c "head -c 200000 /dev/urandom >'$W/tree/usr/bin/tool' &&
		printf 'ID=myos\nPRETTY_NAME=\"MyOS 1.0\"\n' >'$W/tree/usr/lib/os-release'"
	as_user ostree commit --repo="$1" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v1 --add-metadata-string=version=1.0 >/dev/null
	as_user bash -c "head -c 100000 /dev/urandom >'$W/tree/usr/bin/new-tool'"
	as_user ostree commit --repo="$1" --branch="$REF" --tree=dir="$W/tree" \
		--subject=v2 --add-metadata-string=version=2.0 >/dev/null
	V1=$(ostree rev-parse --repo="$1" "$REF^")
	V2=$(ostree rev-parse --repo="$1" "$REF")
}

# make_keys: the device keys and the signing key, and the File variables' temporary files as
# GitLab writes them (the device keys base64, the secret key as it is)
make_keys() {
	local k
	for k in main-2026 fallback-1 stranger; do
		as_user "$TOOL" keygen --luks "$W/keys/$k.key" >/dev/null
	done
	as_user "$TOOL" keygen --signing "$W/keys/release" >/dev/null
	as_user mkdir -p "$(dirname "$W/project/$PUB_REL")"
	as_user cp "$W/keys/release.pub" "$W/project/$PUB_REL"
	as_user bash -c "base64 -w0 '$W/keys/main-2026.key' >'$W/vars/DEVICE_KEY_MAIN_2026'
		base64 -w0 '$W/keys/fallback-1.key' >'$W/vars/DEVICE_KEY_FALLBACK_1'
		cp '$W/keys/release.secret' '$W/vars/MEDIAUPD_SIGNING_KEY'"
}

# run_job YAML: the job's script as the runner runs it, in a clean environment, from the
# project directory; its output in $W/job.log, its exit status returned
run_job() {
	python3 "$EXTRACT" "$1" "$JOB" >"$W/job.sh" || return 1
	chmod 0644 "$W/job.sh"
	(
		cd "$W/project"
		as_user env -i PATH="$W/bin:/usr/local/bin:/usr/bin:/bin" HOME="$W/home" \
			TMPDIR="$W/tmp" CI=true CI_PROJECT_DIR="$W/project" CI_COMMIT_TAG=v2.0 \
			DEVICE_KEY_MAIN_2026="$W/vars/DEVICE_KEY_MAIN_2026" \
			DEVICE_KEY_FALLBACK_1="$W/vars/DEVICE_KEY_FALLBACK_1" \
			MEDIAUPD_SIGNING_KEY="$W/vars/MEDIAUPD_SIGNING_KEY" FROM_COMMIT="$V1" \
			bash -eo pipefail "$W/job.sh"
	) >"$W/job.log" 2>&1
}

# jq_is FILE FILTER EXPECTED: the jq FILTER over FILE prints EXPECTED (outputs joined by spaces)
jq_is() {
	local got
	got=$(jq -c -r "$2" "$1" | paste -s -d ' ')
	[ "$got" = "$3" ] || fail "$2 is '$got', expected '$3'"
}

# --- test cases -----------------------------------------------------------------------------

t_job_runs() {
	run_job "$YAML" || {
		cat "$W/job.log"
		fail "the job's script failed"
	}
	cat "$W/job.log"
	[ -s "$W/project/$ARTIFACT" ] || fail "the job made no $ARTIFACT"
	if [ "$(id -u)" = 0 ]; then
		[ "$(stat -c %u "$W/project/$ARTIFACT")" = "$NOBODY" ] ||
			fail "the artifact is not owned by the unprivileged user"
	fi
	# the job's own check ran and printed the verified header
	grep -q "$V2" "$W/job.log" || fail "the job's log does not show the target commit"
}

t_valid_v2() {
	"$TOOL" inspect --trusted "$W/keys/release.pub" --json "$W/project/$ARTIFACT" >"$W/inspect.json" ||
		fail "inspect --trusted refused the bundle: $(cat "$W/inspect.json")"
	jq_is "$W/inspect.json" '.format_version, .subsystem' "2 mediaupd-v2"
	jq_is "$W/inspect.json" '.verification.verified, .matches_luks' "true true"
	jq_is "$W/inspect.json" '[.header.from_commit, .header.to_commit] | join(" ")' "$V1 $V2"
	jq_is "$W/inspect.json" '[.keyslots[].key_id] | sort | join(" ")' "fallback-1 main-2026"
	# and a device trusting another key refuses it
	as_user "$TOOL" keygen --signing "$W/keys/other" >/dev/null
	if "$TOOL" inspect --trusted "$W/keys/other.pub" "$W/project/$ARTIFACT" >"$W/other.log" 2>&1; then
		fail "inspect accepted the bundle with a key that did not sign it"
	fi
}

t_opens_with_device_keys() {
	local k slot
	for k in main-2026 fallback-1; do
		slot=$("$TOOL" inspect --key "$W/keys/$k.key" --json "$W/project/$ARTIFACT" |
			jq -e -r '.key | select(.opened) | .slot') || fail "$k.key opens no keyslot"
		cryptsetup open --test-passphrase --disable-locks --key-slot "$slot" \
			--key-file "$W/keys/$k.key" "$W/project/$ARTIFACT" || fail "cryptsetup: $k.key does not open slot $slot"
	done
	if cryptsetup open --test-passphrase --disable-locks --key-file "$W/keys/stranger.key" \
		"$W/project/$ARTIFACT" 2>/dev/null; then
		fail "a key the job was not given opens the bundle"
	fi
}

t_no_secret_left() {
	local v secret
	for v in DEVICE_KEY_MAIN_2026 DEVICE_KEY_FALLBACK_1; do
		secret=$(cat "$W/vars/$v")
		! grep -qF -- "${secret:0:24}" "$W/job.log" || fail "the log shows the key of $v"
	done
	secret=$(tail -n 1 "$W/keys/release.secret")
	! grep -qF -- "${secret:0:24}" "$W/job.log" || fail "the log shows the signing key"
	[ -z "$(find "$W/tmp" -mindepth 1 | head -n 1)" ] ||
		fail "the job left files in TMPDIR: $(find "$W/tmp" -mindepth 1 | head -n 3)"
	[ -z "$(find "$W/project" -name '*.key' | head -n 1)" ] ||
		fail "the job left a key in the project directory"
}

# broken SED_EXPRESSION WHAT [checked]: the job with the script changed by SED_EXPRESSION
# fails and makes no artifact (with `checked`: the bundle is made but the job's own check
# fails it, so GitLab publishes nothing)
broken() {
	sed -e "$1" "$YAML" >"$W/broken.yml"
	! cmp -s "$YAML" "$W/broken.yml" || fail "the change '$1' does not apply to $YAML"
	rm -rf "$W/project/$(dirname "$ARTIFACT")"
	if run_job "$W/broken.yml"; then
		cat "$W/job.log"
		fail "the job with '$1' ($2) succeeded"
	fi
	cat "$W/job.log"
	[ "${3:-}" = checked ] || [ ! -e "$W/project/$ARTIFACT" ] || fail "the failed job left $ARTIFACT"
}

# shellcheck disable=SC2016 # the variables are the job's, expanded in the job
t_broken_jobs_fail() {
	broken 's/DEVICE_KEY_MAIN_2026"/DEVICE_KEY_MAIN_2025"/' "an unset File variable"
	broken 's/ --keys-dir "\$keys"//' "no device key"
	broken 's/--from "\$FROM_COMMIT"/--from "$CI_COMMIT_TAG"/' "a commit the repository lacks"
	broken 's/--trusted "\$SIGNING_PUBLIC_KEY"/--trusted "$DEVICE_KEY_MAIN_2026"/' "a check against a wrong key" \
		checked
}

setup
check "the job's script runs unprivileged and makes $ARTIFACT" t_job_runs
check "the artifact is a format 2 bundle that inspect --trusted accepts" t_valid_v2
check "the artifact opens with each device key of the job, and only with those" t_opens_with_device_keys
check "no key in the job's log, none left on disk" t_no_secret_left
check "the job fails when its commands are wrong" t_broken_jobs_fail
tap_end
