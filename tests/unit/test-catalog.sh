#!/bin/bash
# Every journal event the engine logs has an entry in the shipped journal catalog, and
# the catalog has no entry for an id the engine does not use.
set -euo pipefail

src=${MEDIAUPD_SOURCE_ROOT:?}
header=$src/daemon/engine/mu-events.h
catalog=$src/systemd/mediaupd.catalog

mapfile -t used < <(sed -n 's/^#define MU_EVENT_[A-Z_]*_ID "\([0-9a-f]\{32\}\)"$/\1/p' "$header" | sort)
mapfile -t documented < <(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$catalog" | sort)

echo "1..3"
if [ "${#used[@]}" -ge 7 ]; then
	echo "ok 1 - $header defines ${#used[@]} event ids"
else
	echo "not ok 1 - expected at least 7 event ids in $header, found ${#used[@]}"
fi
if [ "${used[*]}" = "${documented[*]}" ]; then
	echo "ok 2 - the catalog documents exactly the ids the engine logs"
else
	echo "not ok 2 - ids differ: engine: ${used[*]} catalog: ${documented[*]}"
fi
missing=0
while read -r line; do
	case $line in
	"-- "*) entry=${line#-- } subject=0 ;;
	Subject:*) subject=1 ;;
	"") [ -n "${entry:-}" ] && [ "$subject" = 0 ] && missing=$((missing + 1)); entry= ;;
	esac
done < <(cat "$catalog"; echo)
if [ "$missing" = 0 ]; then
	echo "ok 3 - every catalog entry has a Subject"
else
	echo "not ok 3 - $missing catalog entries lack a Subject line"
fi
