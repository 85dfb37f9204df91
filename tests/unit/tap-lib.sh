# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# TAP for the shell tests of tests/unit. Source it, set W to the test's work directory, run
# `check DESCRIPTION FUNCTION [ARGS]` per case and end with `tap_end` (or print a plan
# yourself and end with `[ "$TESTS_FAILED" = 0 ]`).

TESTS_RUN=0
TESTS_FAILED=0

# The unprivileged user the bundle tools must work as.
readonly NOBODY=65534

diag() {
	printf '# %s\n' "$@"
}

# fail MESSAGE: ends the current test case (a subshell) as failed.
fail() {
	printf 'FAIL: %s\n' "$*"
	exit 1
}

# check DESCRIPTION FUNCTION [ARGS]: one TAP line; the function runs in a subshell under set -e.
check() {
	local desc=$1 rc
	shift
	TESTS_RUN=$((TESTS_RUN + 1))
	set +e
	(
		set -e
		"$@"
	) >"$W/case.log" 2>&1
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then
		echo "ok $TESTS_RUN - $desc"
	else
		echo "not ok $TESTS_RUN - $desc"
		sed -e 's/^/# /' "$W/case.log" | tail -n 40
		TESTS_FAILED=$((TESTS_FAILED + 1))
	fi
}

# The plan, and the exit status: 0 if every case passed.
tap_end() {
	echo "1..$TESTS_RUN"
	[ "$TESTS_FAILED" = 0 ]
}

# as_user CMD...: runs CMD as NOBODY when the test runs as root, else as the caller.
AS_USER=()
if [ "$(id -u)" = 0 ]; then
	AS_USER=(setpriv "--reuid=$NOBODY" "--regid=$NOBODY" --clear-groups --)
fi

as_user() {
	"${AS_USER[@]}" "$@"
}
