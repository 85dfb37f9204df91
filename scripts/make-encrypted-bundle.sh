#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-encrypted-bundle.sh: builds a mediaupd update bundle from an OSTree repository, as an
# unprivileged user, with `mediaupd-bundle create` (docs/make-encrypted-bundle.md). The
# command line and environment are those GitLab CI jobs use; the bundle format, its checks and
# every error message live in `create`. This script finds the tool, hands it the arguments
# unchanged and exits with its exit status.
set -euo pipefail

readonly PROG=make-encrypted-bundle.sh

usage() {
	cat <<EOF
Usage:
  $PROG --repo REPO --ref REF [--to COMMIT] (--from COMMIT | --empty)
      --signing-key FILE [--signing-key FILE ...]
      (--key ID=FILE [--key ID=FILE ...] | --keys-dir DIR)
      [--output FILE] [--force] [--fs squashfs|erofs|ext4]
      [--pbkdf pbkdf2|argon2id] [--pbkdf-iterations N] [--pbkdf-memory KIB] [--pbkdf-parallel N]
      [--keyslot-room N] [--cipher NAME]

Builds an encrypted mediaupd update bundle (format v2, docs/bundle-format.md) by running
'mediaupd-bundle create' with these arguments; 'mediaupd-bundle create --help' describes
each option. Runs unprivileged.

Environment:
  MEDIAUPD_SIGNING_KEY_FILE  path of the signing key, used when no --signing-key is given
  MEDIAUPD_KEYS_DIR          keys directory, used when neither --key nor --keys-dir is given
  MEDIAUPD_BUNDLE            path of the mediaupd-bundle tool (default: next to this script,
                             then \$PATH)
  TMPDIR                     where the work files go (default /tmp)

Exit status: that of 'mediaupd-bundle create': 0 written, 1 failed (nothing is left
behind), 2 usage error.
EOF
}

# die WHAT WHAT-TO-DO: says what is wrong and what to do about it, then exits 1.
die() {
	printf '%s: error: %s\n%s: hint: %s\n' "$PROG" "$1" "$PROG" "$2" >&2
	exit 1
}

# Prints the mediaupd-bundle to run: $MEDIAUPD_BUNDLE, the one next to this script, or the
# one on $PATH.
find_bundle_tool() {
	local here
	if [ -n "${MEDIAUPD_BUNDLE:-}" ]; then
		{ [ -x "$MEDIAUPD_BUNDLE" ] && [ -f "$MEDIAUPD_BUNDLE" ]; } ||
			die "MEDIAUPD_BUNDLE='$MEDIAUPD_BUNDLE' is not an executable file" \
				"point MEDIAUPD_BUNDLE at the built mediaupd-bundle, or unset it to search \$PATH"
		printf '%s' "$MEDIAUPD_BUNDLE"
		return
	fi
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if [ -x "$here/mediaupd-bundle" ] && [ -f "$here/mediaupd-bundle" ]; then
		printf '%s' "$here/mediaupd-bundle"
	elif command -v mediaupd-bundle >/dev/null 2>&1; then
		command -v mediaupd-bundle
	else
		die "the tool 'mediaupd-bundle' is missing (it builds the bundle)" \
			"install the package mediaupd-tools, or set MEDIAUPD_BUNDLE=/path/to/build/daemon/mediaupd-bundle/mediaupd-bundle"
	fi
}

main() {
	local a tool
	for a in "$@"; do
		case $a in
		-h | --help)
			usage
			exit 0
			;;
		esac
	done
	tool=$(find_bundle_tool)
	exec "$tool" create "$@"
}

main "$@"
