#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The bash completion of mediaupdctl and mediaupd-bundle (completion/), sourced into this
# shell: the commands complete, each command's options are exactly those of its real
# --help (the built programs), and fixed-list values complete. TAP on stdout.
#
# Environment: MEDIAUPD_SOURCE_ROOT, MEDIAUPDCTL, MEDIAUPD_BUNDLE.
set -euo pipefail

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

# shellcheck source=/dev/null # checked on its own by shellcheck-completion
. "$MEDIAUPD_SOURCE_ROOT/completion/mediaupdctl"
# shellcheck source=/dev/null # checked on its own by shellcheck-completion
. "$MEDIAUPD_SOURCE_ROOT/completion/mediaupd-bundle"

# complete FUNCTION WORD...: COMPREPLY for the command line WORD... (the last is completed),
# sorted, one a line
complete_line() {
	local fn=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$fn"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}

# help_options PROGRAM [COMMAND]: the options of the real --help, sorted, one a line
help_options() {
	"$@" --help | sed -n -E 's/^  (-[^ ].*)$/\1/p' | sed -E 's/ {2,}.*//' |
		grep -o -E '(^|[ ,])--?[a-zA-Z][a-z0-9-]*' | tr -d ' ,' | sort -u
}

expect() {
	local what=$1 want=$2 got=$3
	[ "$want" = "$got" ] || fail "$what: expected [$(echo "$want" | tr '\n' ' ')], got [$(echo "$got" | tr '\n' ' ')]"
}

commands_of() {
	"$1" --help | sed -n '/^Commands:/,/^$/p' | sed -n -E 's/^  ([a-z][a-z-]*).*/\1/p' | sort
}

t_commands() {
	local fn=$1 prog=$2 want
	want=$(commands_of "$prog")
	[ -n "$want" ] || fail "$prog --help lists no commands"
	expect "$prog <TAB>" "$want" "$(complete_line "$fn" "${prog##*/}" '')"
}

t_prefix() {
	expect "mediaupdctl ma<TAB>" mark-good "$(complete_line _mediaupdctl mediaupdctl ma)"
	expect "mediaupd-bundle sign<TAB>" "$(printf 'sign\nsign-header')" \
		"$(complete_line _mediaupd_bundle mediaupd-bundle sign)"
}

t_options() {
	local fn=$1 prog=$2 cmd want
	for cmd in $(commands_of "$prog"); do
		want=$(help_options "$prog" "$cmd")
		[ -n "$want" ] || fail "$prog $cmd --help shows no options"
		expect "${prog##*/} $cmd -<TAB>" "$want" \
			"$(complete_line "$fn" "${prog##*/}" "$cmd" -)"
	done
}

t_values() {
	expect "create --fs <TAB>" "$(printf 'erofs\next4\nsquashfs')" \
		"$(complete_line _mediaupd_bundle mediaupd-bundle create --fs '')"
	expect "rekey --pbkdf a<TAB>" argon2id \
		"$(complete_line _mediaupd_bundle mediaupd-bundle rekey --pbkdf a)"
	expect "watch --exit<TAB>" --exit-on-completed \
		"$(complete_line _mediaupdctl mediaupdctl watch --exit)"
	expect "keys --with-key host<TAB>" "$(printf 'host\nhost+tpm2')" \
		"$(complete_line _mediaupdctl mediaupdctl keys seal --with-key host)"
	expect "keys s<TAB>" seal "$(complete_line _mediaupdctl mediaupdctl keys s)"
}

t_files() {
	mkdir "$W/dir"
	: >"$W/dir/static-update.bundle.enc"
	expect "apply FILE<TAB>" "$W/dir/static-update.bundle.enc" \
		"$(complete_line _mediaupdctl mediaupdctl apply "$W/dir/st")"
	expect "inspect --json FILE<TAB>" "$W/dir/static-update.bundle.enc" \
		"$(complete_line _mediaupd_bundle mediaupd-bundle inspect --json "$W/dir/st")"
}

echo "1..7"
check "mediaupdctl: the commands of its --help complete" t_commands _mediaupdctl "$MEDIAUPDCTL"
check "mediaupd-bundle: the commands of its --help complete" t_commands _mediaupd_bundle "$MEDIAUPD_BUNDLE"
check "a command's prefix completes to it" t_prefix
check "mediaupdctl: each command's options are those of its --help" t_options _mediaupdctl "$MEDIAUPDCTL"
check "mediaupd-bundle: each command's options are those of its --help" t_options _mediaupd_bundle "$MEDIAUPD_BUNDLE"
check "fixed-list values and long options complete" t_values
check "bundle files complete" t_files
[ "$TESTS_FAILED" = 0 ]
