#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bundle-recipe.sh DIR: runs the recipe "Making a v2 bundle by hand" of docs/bundle-format.md
# (the first ```sh block after that heading) as it stands, in DIR, which then holds the
# bundle as DIR/bundle. DIR must hold what the recipe starts from: repo/ (an archive
# repository whose ref os/x86_64/main is the update and whose parent commit the one the
# delta is from), release.secret, release.pub, main-2026.key and fallback-1.key; and
# mediaupd-bundle must be in PATH. Run by tests/unit/test-bundle-create.sh (on the host,
# unprivileged) and by vm test 18 (the bundle then installs on the guest).
#
# Exit status: the recipe's; 1 also when the docs hold no recipe.
# MEDIAUPD_SOURCE_ROOT: the source tree (default: two levels above this file).
set -euo pipefail

root=${MEDIAUPD_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
dir=${1:?usage: bundle-recipe.sh DIR}
# shellcheck disable=SC2016 # sed expressions, not shell ones
recipe=$(sed -n '/^## Making a v2 bundle by hand$/,$p' "$root/docs/bundle-format.md" |
	sed -n '/^```sh$/,/^```$/p' | sed -e '1d' -e '/^```$/,$d')
if [ "$(wc -l <<<"$recipe")" -le 20 ]; then
	echo "bundle-recipe.sh: no recipe under 'Making a v2 bundle by hand' in $root/docs/bundle-format.md" >&2
	exit 1
fi
cd "$dir"
exec bash -euo pipefail -c "$recipe"
