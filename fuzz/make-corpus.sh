#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Remakes the seed corpora (fuzz/corpus/TARGET/) from the project's own tools and
# example files: a small OSTree repository with two commits, its static deltas (plain and
# signed with keys-example's signing key), a format-2 bundle made by 'mediaupd-bundle
# create' with the example LUKS keys (its LUKS2 JSON metadata, tokens and signed header),
# the shipped mediaupd.conf, the example key files, and worker messages made by the
# worker's encoders. The seeds are committed; run this only to change them.
# Usage: make-corpus.sh BUILD_DIR   (a build with -Dfuzzing=true, for make-worker-seeds;
#                                   its mediaupd-bundle makes the bundle)
# Needs ostree, cryptsetup, mkfs.erofs and python3.
set -euo pipefail

build=$(cd "${1:?usage: make-corpus.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tool=$build/daemon/mediaupd-bundle/mediaupd-bundle
keys=$root/keys-example
corpus=$here/corpus
REF=os/x86_64/main

w=$(mktemp -d "${TMPDIR:-/tmp}/mediaupd-corpus.XXXXXX")
trap 'rm -rf "$w"' EXIT

for t in config key-file keyring luks-header os-release signed-delta signed-header \
	signed-token superblock worker-proto; do
	rm -rf "${corpus:?}/$t"
	mkdir -p "$corpus/$t"
done

# config: the shipped file, the same with every key set, an empty file.
cp "$root/systemd/mediaupd.conf" "$corpus/config/shipped.conf"
sed -n -e 's/^#\([A-Z][A-Za-z0-9]*=\)/\1/p' -e '/^\[/p' "$root/systemd/mediaupd.conf" \
	>"$corpus/config/all-keys.conf"
printf '[Bundle]\nFormats=1;2\n[Unlock]\nCiphers=xchacha12,aes-adiantum-plain64\n' \
	>"$corpus/config/formats.conf"
: >"$corpus/config/empty.conf"

# os-release: as distributions write it, quoting and comments included.
cat >"$corpus/os-release/debian" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
ID=debian
HOME_URL="https://www.debian.org/"
OS
cat >"$corpus/os-release/variant" <<'OS'
# a product image
ID='exampleos'
VARIANT_ID=gateway
NAME="Example \"OS\" \$1 \\ \`x\`"
OS

# keyring: the example public and secret key files, and a list with a comment and CRLF.
cp "$keys/trusted.ed25519" "$corpus/keyring/trusted.ed25519"
cp "$keys/example-signing.secret" "$corpus/keyring/example-signing.secret"
{
	printf '# two keys\r\n'
	cat "$keys/trusted.ed25519"
	printf '\n  %s  \n' "$(printf '%032d' 7 | base64 -w0)"
} >"$corpus/keyring/list.ed25519"

# key-file: the file's name on the first line, its contents after it.
for id in main-2026 fallback-1; do
	{
		echo "$id.key"
		cat "$keys/$id.key"
	} >"$corpus/key-file/$id"
done
{
	echo "main-2026.cred"
	printf '058469daf6f54324800549da0f8ea2fb0000' | xxd -r -p | base64 -w0
	head -c 64 "$keys/main-2026.key" | base64 -w0
} >"$corpus/key-file/credential"

# worker-proto
"$build/fuzz/make-worker-seeds" "$corpus/worker-proto"

# An archive repository with two commits of a tiny tree, bound to their ref.
ostree --repo="$w/repo" init --mode=archive
mkdir -p "$w/tree/usr/lib" "$w/tree/usr/bin"
cp "$corpus/os-release/variant" "$w/tree/usr/lib/os-release"
echo one >"$w/tree/usr/bin/tool"
ostree --repo="$w/repo" commit -b "$REF" --tree=dir="$w/tree" --bind-ref="$REF" \
	--add-metadata-string=version=1.0 --timestamp=2026-01-01T00:00:00Z -s one >/dev/null
echo two >"$w/tree/usr/bin/tool"
echo new >"$w/tree/usr/bin/other"
ostree --repo="$w/repo" commit -b "$REF" --tree=dir="$w/tree" --bind-ref="$REF" \
	--add-metadata-string=version=1.1 --timestamp=2026-02-01T00:00:00Z -s two >/dev/null
from=$(ostree --repo="$w/repo" rev-parse "$REF^")
to=$(ostree --repo="$w/repo" rev-parse "$REF")

# superblock and signed-delta: a full and a from-delta.
mkdir "$w/full" "$w/delta"
ostree --repo="$w/repo" static-delta generate --empty --to="$to" --min-fallback-size=0 \
	--filename="$w/full/superblock" >/dev/null
ostree --repo="$w/repo" static-delta generate --from="$from" --to="$to" \
	--min-fallback-size=0 --filename="$w/delta/superblock" >/dev/null
for d in full delta; do
	cp "$w/$d/superblock" "$corpus/superblock/$d"
	"$tool" sign --key "$keys/example-signing.secret" "$w/$d/superblock" \
		"$corpus/signed-delta/$d" >/dev/null
done

# luks-header, signed-token, signed-header: a format-2 bundle.
"$tool" create --repo="$w/repo" --ref="$REF" --from="$from" \
	--signing-key="$keys/example-signing.secret" --key="main-2026=$keys/main-2026.key" \
	--key="fallback-1=$keys/fallback-1.key" --keyslot-room=2 -o "$w/bundle" >/dev/null
cryptsetup luksDump --dump-json-metadata --disable-locks "$w/bundle" \
	>"$corpus/luks-header/bundle-v2.json"
python3 - "$corpus" <<'PY'
import base64, json, sys
corpus = sys.argv[1]
luks = json.load(open(corpus + "/luks-header/bundle-v2.json"))
for tid, token in luks["tokens"].items():
    if token["type"] == "mediaupd-signed":
        text = json.dumps(token, separators=(",", ":"))
        open(corpus + "/signed-token/token.json", "w").write(text)
        open(corpus + "/signed-header/header", "wb").write(base64.b64decode(token["header"]))
    elif token["type"] == "mediaupd-keyid":
        open(corpus + "/signed-token/keyid-" + tid + ".json", "w").write(json.dumps(token))
# The same header without its signed token: what a format-1 bundle has.
del luks["tokens"]
luks["tokens"] = {}
open(corpus + "/luks-header/no-tokens.json", "w").write(json.dumps(luks, indent=2))
PY

echo "seeds:"
du -sh "$corpus"/*
