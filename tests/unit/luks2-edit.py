#!/usr/bin/python3
# Rewrites the JSON metadata of a LUKS2 file in both header copies, recomputing
# each copy's checksum, so that libcryptsetup loads what a forger would write.
#
#   luks2-edit.py FILE [--set PATH=JSON]... [--delete PATH]...
#                      [--null-keyslot SLOT --volume-key FILE]
#
# PATH is dot-separated, e.g. keyslots.0.area.encryption. --null-keyslot
# stores the volume key (raw bytes in FILE) in keyslot SLOT's area without
# encryption (the anti-forensic split LUKS keeps there, in clear) and names
# cipher_null-ecb as the area's encryption (before any --set, which may name
# another spelling).
import argparse
import hashlib
import json
import os
import struct
import sys

BIN_HEADER = 4096
CSUM_OFFSET = 448
CSUM_LEN = 64


def read_copies(data):
    (hdr_size,) = struct.unpack(">Q", data[8:16])
    if data[:6] != b"LUKS\xba\xbe" or data[hdr_size:hdr_size + 6] != b"SKUL\xba\xbe":
        sys.exit("luks2-edit.py: not a LUKS2 file with both header copies")
    return hdr_size


def seal(copy):
    copy[CSUM_OFFSET:CSUM_OFFSET + CSUM_LEN] = bytes(CSUM_LEN)
    digest = hashlib.sha256(bytes(copy)).digest()
    copy[CSUM_OFFSET:CSUM_OFFSET + len(digest)] = digest


def walk(root, path, create=False):
    parts = path.split(".")
    node = root
    for part in parts[:-1]:
        if part not in node:
            if not create:
                sys.exit(f"luks2-edit.py: no '{part}' in {path}")
            node[part] = {}
        node = node[part]
    return node, parts[-1]


def diffuse(block, hash_name):
    size = hashlib.new(hash_name).digest_size
    out = b""
    for i in range(0, len(block), size):
        chunk = block[i:i + size]
        out += hashlib.new(hash_name, struct.pack(">I", i // size) + chunk).digest()[:len(chunk)]
    return out


def af_split(key, stripes, hash_name):
    buf = bytes(len(key))
    out = b""
    for _ in range(stripes - 1):
        stripe = os.urandom(len(key))
        out += stripe
        buf = diffuse(bytes(a ^ b for a, b in zip(buf, stripe)), hash_name)
    return out + bytes(a ^ b for a, b in zip(buf, key))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--delete", action="append", default=[])
    parser.add_argument("--null-keyslot")
    parser.add_argument("--volume-key")
    args = parser.parse_args()

    with open(args.file, "rb") as f:
        data = bytearray(f.read())
    hdr_size = read_copies(data)
    meta = json.loads(bytes(data[BIN_HEADER:hdr_size]).rstrip(b"\0"))

    if args.null_keyslot is not None:
        slot = meta["keyslots"][args.null_keyslot]
        with open(args.volume_key, "rb") as f:
            key = f.read()
        if len(key) != slot["key_size"]:
            sys.exit("luks2-edit.py: the volume key does not fit the keyslot")
        material = af_split(key, slot["af"]["stripes"], slot["af"]["hash"])
        offset = int(slot["area"]["offset"])
        if len(material) > int(slot["area"]["size"]):
            sys.exit("luks2-edit.py: the keyslot area is too small")
        data[offset:offset + len(material)] = material
        slot["area"]["encryption"] = "cipher_null-ecb"

    for item in args.set:
        path, value = item.split("=", 1)
        node, key = walk(meta, path, create=True)
        node[key] = json.loads(value)
    for path in args.delete:
        node, key = walk(meta, path)
        del node[key]
    text = json.dumps(meta, separators=(",", ":")).encode()
    if len(text) >= hdr_size - BIN_HEADER:
        sys.exit("luks2-edit.py: the JSON no longer fits the header")
    for start in (0, hdr_size):
        copy = bytearray(data[start:start + hdr_size])
        copy[BIN_HEADER:] = text + bytes(hdr_size - BIN_HEADER - len(text))
        seal(copy)
        data[start:start + hdr_size] = copy
    with open(args.file, "r+b") as f:
        f.write(data[:2 * hdr_size])
        if args.null_keyslot is not None:
            f.seek(0)
            f.write(data)


if __name__ == "__main__":
    main()
