#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# docs/support.md documents every journal event and every error (TAP): each MESSAGE_ID of
# daemon/engine/mu-events.h has a section (a `### ` heading holding the id), no section names
# an id the code does not define, each MEDIAUPD_EVENT word of mu-events.c and each D-Bus error
# name of the MuErrorCode table (daemon/engine/mu-error.c, org.mediaupd.Error.NAME) appears
# in it. A new event or error without documentation fails here. The checks are also run on a
# copy of the document with a section and an error removed, which they must notice.
#
# Environment: MEDIAUPD_SOURCE_ROOT (default: two levels above this file), SUPPORT_DOC (the
# document; default docs/support.md there).
set -euo pipefail

src=${MEDIAUPD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
doc=${SUPPORT_DOC:-$src/docs/support.md}
W=$(mktemp -d /tmp/mu-test-support-doc.XXXXXXXX)
trap 'rm -rf -- "$W"' EXIT

# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/tap-lib.sh"

mapfile -t event_ids < <(sed -n 's/^#define MU_EVENT_[A-Z_]*_ID "\([0-9a-f]\{32\}\)"$/\1/p' \
	"$src/daemon/engine/mu-events.h")
mapfile -t event_words < <(grep -o '"MEDIAUPD_EVENT", *"[a-z-]*"' "$src/daemon/engine/mu-events.c" |
	sed 's/.*"\([a-z-]*\)"$/\1/'
	# the refusal and the failure share one call: `refusal ? "refused" : "failed"`
	grep -o 'refusal ? "[a-z]*" : "[a-z]*", "MEDIAUPD_PHASE"' "$src/daemon/engine/mu-events.c" |
		sed 's/refusal ? "\([a-z]*\)" : "\([a-z]*\)".*/\1\n\2/')
mapfile -t error_names < <(sed -n 's/^\t\[MU_ERROR_[A-Z_]*\] = "\([A-Za-z]*\)",$/\1/p' \
	"$src/daemon/engine/mu-error.c")
error_codes=$(sed -n '/^typedef enum {$/,/^} MuErrorCode;$/p' "$src/daemon/engine/mu-error.h" |
	grep -cP '^\tMU_ERROR_[A-Z_]+,')

# missing_events DOC: the event ids of the code without a section in DOC, one a line
missing_events() {
	local id
	for id in "${event_ids[@]}"; do
		grep -q "^### .*\`$id\`" "$1" || echo "$id"
	done
}
# stale_events DOC: the ids of DOC's sections that the code does not define
stale_events() {
	local id
	# shellcheck disable=SC2016 # backquotes of Markdown, in a sed expression
	while read -r id; do
		printf '%s\n' "${event_ids[@]}" | grep -qx "$id" || echo "$id"
	done < <(sed -n 's/^### .*`\([0-9a-f]\{32\}\)`.*$/\1/p' "$1")
}
# missing_errors DOC: the error names of the code that DOC lacks as org.mediaupd.Error.NAME
missing_errors() {
	local name
	for name in "${error_names[@]}"; do
		grep -q "\`org\.mediaupd\.Error\.$name\`" "$1" || echo "$name"
	done
}

t_code_parsed() {
	[ "${#event_ids[@]}" -ge 17 ] || fail "only ${#event_ids[@]} event ids found in mu-events.h"
	[ "${#event_words[@]}" = "${#event_ids[@]}" ] ||
		fail "${#event_words[@]} MEDIAUPD_EVENT words in mu-events.c for ${#event_ids[@]} ids"
	[ "${#error_names[@]}" = "$error_codes" ] ||
		fail "${#error_names[@]} names in mu-error.c's table for $error_codes codes in mu-error.h"
}

t_events() {
	local missing
	missing=$(missing_events "$doc")
	[ -z "$missing" ] || fail "no section in $doc for: $missing"
}

t_no_stale() {
	local stale
	stale=$(stale_events "$doc")
	[ -z "$stale" ] || fail "$doc has sections for ids the code does not define: $stale"
}

t_event_words() {
	local w
	for w in "${event_words[@]}"; do
		grep -q "MEDIAUPD_EVENT=$w\b" "$doc" || fail "$doc does not name MEDIAUPD_EVENT=$w"
	done
}

t_errors() {
	local missing
	missing=$(missing_errors "$doc")
	[ -z "$missing" ] || fail "$doc lacks the D-Bus errors: $missing"
}

t_checks_notice() {
	local id=${event_ids[0]} name=${error_names[1]}
	# the section of the first event, and the row of the second error, removed
	awk -v id="$id" '/^### / { skip = index($0, id) > 0 } !skip' "$doc" |
		grep -v "org\.mediaupd\.Error\.$name\`" >"$W/cut.md"
	[ "$(missing_events "$W/cut.md")" = "$id" ] || fail "a removed section of $id went unnoticed"
	[ "$(missing_errors "$W/cut.md")" = "$name" ] || fail "a removed error $name went unnoticed"
	# shellcheck disable=SC2016 # backquotes of Markdown
	printf '### A section (`%s`)\n' 0123456789abcdef0123456789abcdef >>"$W/cut.md"
	[ "$(stale_events "$W/cut.md")" = 0123456789abcdef0123456789abcdef ] ||
		fail "a section of an unknown id went unnoticed"
}

check "the event ids, event words and error names are read from the code" t_code_parsed
check "every event id of mu-events.h has a section in support.md" t_events
check "every section of support.md is of an event the code defines" t_no_stale
check "every MEDIAUPD_EVENT word is in support.md" t_event_words
check "every D-Bus error name is in support.md" t_errors
check "the checks notice a missing section, a missing error and an unknown id" t_checks_notice
tap_end
