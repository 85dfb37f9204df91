#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host side of bench/daemon-bench.sh: turns what one round left in the guest's logs into a
CSV row, and the CSV of a run into the summary table.

  bench-report.py round BUNDLE METHOD ROUND DAEMON LOAD MARK UDEV DBUS JOURNAL [CMD_START CMD_END]
      prints one CSV row (no header). METHOD: daemon or local; DAEMON: running or stopped
      (at the plug); LOAD: the host's load average (1 min) after the round; MARK: the
      guest's uptime just before the plug; only
      what happened after it counts. UDEV, DBUS: the guest's udev.log and dbus.log
      (bench/guest/monitor.sh); JOURNAL: `journalctl -o json` of the engine's events.
      Exits 1, saying what is missing, when the round did not produce every timestamp.
  bench-report.py header
  bench-report.py summary CSV
      the tables of docs/performance.md (medians, minimum, maximum, ratios), as Markdown.

All times are seconds on the guest's monotonic clock.
"""
import csv
import json
import re
import statistics
import sys

EVENTS = {
    "0225d7dc771eb4c05bc9c16dd600d6d1": "install_start",  # bundle-found (the engine's)
    "1df9a685b26b0fdf3c5e51fa16ca7ac5": "unlocked",
    "aa0b65aa8ffe85f686f013cb4ffa7ac8": "verified",
    "7abdbd5b2608995c8fa3ed490f1625fa": "applied",
    "a4e6b84b811cddf92a52a9a044444c78": "deployed",
}
STAMPS = ["mark", "udev_add", "udisks_added", "mount_call", "mounted", "mount_return",
          "bundle_found_signal", "install_start", "unlocked", "verified",
          "applied", "deployed", "completed_signal", "cmd_start", "cmd_end"]
DERIVED = ["latency", "lat_udisks", "lat_mount", "lat_scan", "lat_react", "lat_mount_call",
           "lat_after_mount", "plug_to_deployed", "install_to_deployed", "command", "unlock",
           "verify", "apply", "deploy", "end"]
HEADER = ["bundle", "method", "round", "daemon", "host_load"] + STAMPS + DERIVED
# "UDEV  [1234.567890] add      /devices/.../block/sda/sda1 (block)": a partition of a stick
UDEV_ADD = re.compile(r"^UDEV\s+\[(\d+\.\d+)\]\s+add\s+\S+/block/sd[a-z]+/sd[a-z]+\d+ \(block\)")
# "12.34 signal time=... sender=:1.3 -> destination=... serial=15 path=/org/mediaupd/Manager1;
# interface=org.mediaupd.Manager1; member=BundleFound" (or "method call"), then the message's
# arguments, one or more lines each; "12.34 method return time=... sender=:1.7 ->
# destination=:1.3 serial=99 reply_serial=12"
MESSAGE = re.compile(r"^(\d+\.\d+) (signal|method call|method return|error) time=(\S+) "
                     r"sender=(\S+) -> destination=(.+?) serial=(\d+) ?(.*)$")
HEAD = re.compile(r"path=([^;]*); interface=([^;]*); member=(\w+)")


def read_signals(path):
    """The messages in a dbus.log: [time, path, interface, member, arguments text, type,
    sender, destination, serial, reply_serial].

    The time is dbus-monitor's own stamp (realtime, microseconds, taken as it received the
    message) moved onto the monotonic clock: the uptime prefix is read only as the line
    comes out of the pipe, late by up to a few tenths of a second in a burst of udisks2
    signals, so the offset between the two clocks is taken from the least delayed line."""
    messages = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = MESSAGE.match(line)
            if m:
                h = HEAD.match(m.group(7))
                r = re.match(r"reply_serial=(\d+)", m.group(7))
                # [0]: the realtime stamp for now, [10]: its distance to the uptime read
                messages.append([float(m.group(3)), h and h.group(1), h and h.group(2),
                                 h and h.group(3), "", m.group(2), m.group(4), m.group(5),
                                 m.group(6), r and r.group(1),
                                 float(m.group(3)) - float(m.group(1))])
            elif messages:
                messages[-1][4] += line
    offset = max((msg[10] for msg in messages), default=0.0)
    for msg in messages:
        msg[0] -= offset
        del msg[10]
    return messages


def first_after(values, mark):
    later = [v for v in values if v > mark]
    return min(later) if later else None


def round_row(args):
    bundle, method, rnd, daemon, load, mark, udev, dbus, journal = args[:9]
    mark = float(mark)
    t = dict.fromkeys(STAMPS)
    t["mark"] = mark
    with open(udev, encoding="utf-8", errors="replace") as f:
        t["udev_add"] = first_after(
            [float(m.group(1)) for m in map(UDEV_ADD.match, f) if m], mark)
    signals = read_signals(dbus)
    ours = lambda member: [s[0] for s in signals if s[5] == "signal"
                           and s[2] == "org.mediaupd.Manager1" and s[3] == member]
    t["bundle_found_signal"] = first_after(ours("BundleFound"), mark)
    t["completed_signal"] = first_after(ours("Completed"), mark)
    # udisks2 announces the partition's object, then its Filesystem gets a mount point
    part = "/org/freedesktop/UDisks2/block_devices/sda1"
    t["udisks_added"] = first_after(
        [s[0] for s in signals if s[3] == "InterfacesAdded" and f'object path "{part}"' in s[4]],
        mark)
    t["mounted"] = first_after(
        [s[0] for s in signals if s[1] == part and s[3] == "PropertiesChanged"
         and '"MountPoints"' in s[4] and "array of bytes" in s[4]], mark)
    # the Mount call for the partition (recorded since bench/guest/monitor.sh watches
    # method calls) and udisks2's reply to it
    calls = [s for s in signals if s[5] == "method call" and s[1] == part and s[3] == "Mount"
             and s[0] > mark]
    if calls:
        call = calls[0]
        t["mount_call"] = call[0]
        t["mount_return"] = first_after(
            [s[0] for s in signals if s[5] == "method return" and s[9] == call[8]
             and s[7] == call[6]], mark)
    # the daemon's worker runs as /proc/self/exe (_COMM "exe"): known by its unit
    mine = ((lambda e: e.get("_SYSTEMD_UNIT") == "mediaupd.service") if method == "daemon"
            else (lambda e: e.get("_COMM") == "mediaupdctl"))
    events = {}
    with open(journal, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            name = EVENTS.get(e.get("MESSAGE_ID"))
            if name and mine(e):
                events.setdefault(name, []).append(int(e["__MONOTONIC_TIMESTAMP"]) / 1e6)
    for name in EVENTS.values():
        t[name] = first_after(events.get(name, []), mark)
    if method == "local":
        t["cmd_start"], t["cmd_end"] = float(args[9]), float(args[10])
    need = ["udev_add", "install_start", "unlocked", "verified", "applied", "deployed"]
    need += ["bundle_found_signal", "completed_signal"] if method == "daemon" else ["cmd_start", "cmd_end"]
    missing = [n for n in need if t[n] is None]
    if missing:
        sys.exit(f"bench-report: round {rnd} ({bundle}, {method}) has no {', '.join(missing)} "
                 f"after {mark}")
    d = dict.fromkeys(DERIVED)
    if method == "daemon":
        d["latency"] = t["bundle_found_signal"] - t["udev_add"]
        if t["udisks_added"] is not None and t["mounted"] is not None:
            d["lat_udisks"] = t["udisks_added"] - t["udev_add"]
            d["lat_mount"] = t["mounted"] - t["udisks_added"]
            d["lat_scan"] = t["bundle_found_signal"] - t["mounted"]
        if None not in (t["udisks_added"], t["mount_call"], t["mount_return"]):
            d["lat_react"] = t["mount_call"] - t["udisks_added"]
            d["lat_mount_call"] = t["mount_return"] - t["mount_call"]
            d["lat_after_mount"] = t["bundle_found_signal"] - t["mount_return"]
        d["plug_to_deployed"] = t["deployed"] - t["udev_add"]
        d["end"] = t["completed_signal"] - t["deployed"]
    else:
        d["command"] = t["cmd_end"] - t["cmd_start"]
        d["end"] = t["cmd_end"] - t["deployed"]
    d["install_to_deployed"] = t["deployed"] - t["install_start"]
    d["unlock"] = t["unlocked"] - t["install_start"]
    d["verify"] = t["verified"] - t["unlocked"]
    d["apply"] = t["applied"] - t["verified"]
    d["deploy"] = t["deployed"] - t["applied"]
    fmt = lambda v: "" if v is None else f"{v:.3f}"
    row = [bundle, method, rnd, daemon, load] + [fmt(t[n]) for n in STAMPS] + [fmt(d[n]) for n in DERIVED]
    csv.writer(sys.stdout, lineterminator="\n").writerow(row)


def stats(values):
    return (statistics.median(values), min(values), max(values), len(values))


def cell(values):
    if not values:
        return "—"
    med, lo, hi, n = stats(values)
    return f"{med:.2f} ({lo:.2f}–{hi:.2f}, n={n})"


def summary(path):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    col = lambda rs, name: [float(r[name]) for r in rs if r.get(name, "") != ""]
    out = []
    daemon = [r for r in rows if r["method"] == "daemon"]
    out.append("### udev add → BundleFound (goal ≤ 1 s)\n")
    out.append("| daemon at the plug | udev add → BundleFound: median (min–max, rounds) s "
               "| goal met | of which (medians): udev add → udisks2 object | → mounted "
               "(MountPoints) | → BundleFound | udisks2 object → Mount call | Mount call → "
               "reply | reply → BundleFound |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for state, label in (("running", "running (follows udisks2)"),
                         ("stopped", "stopped (started by the udev rule)")):
        rs = [r for r in daemon if r["daemon"] == state]
        v = col(rs, "latency")
        if v:
            parts = " | ".join(f"{statistics.median(col(rs, p)):.2f}" if col(rs, p) else "—"
                               for p in ("lat_udisks", "lat_mount", "lat_scan", "lat_react",
                                         "lat_mount_call", "lat_after_mount"))
            met = (f"median {'yes' if statistics.median(v) <= 1.0 else 'no'}; "
                   f"{sum(x <= 1.0 for x in v)} of {len(v)} rounds ≤ 1 s")
            out.append(f"| {label} | {cell(v)} | {met} | {parts} |")
    out.append("")
    out.append("### plug → deployed by the daemon vs `mediaupdctl apply --local` (goal ≤ 1.05)\n")
    out.append("Medians in seconds, (min–max, rounds); the daemon running at each plug.\n")
    out.append("| bundle | daemon: udev add → deployed | daemon: install start → deployed "
               "| apply --local: command | apply --local: install start → deployed "
               "| ratio plug→deployed / command | ratio install→deployed / command "
               "| ratio install→deployed / install→deployed "
               "| ratio plug→deployed / command, median of the pairs |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    bundles = []
    for r in rows:
        if r["bundle"] not in bundles:
            bundles.append(r["bundle"])
    phases_rows = []
    for b in bundles:
        d = [r for r in rows if r["bundle"] == b and r["method"] == "daemon" and r["daemon"] == "running"]
        lo = [r for r in rows if r["bundle"] == b and r["method"] == "local"]
        m = statistics.median
        dp, di = col(d, "plug_to_deployed"), col(d, "install_to_deployed")
        lc, li = col(lo, "command"), col(lo, "install_to_deployed")
        ratio = lambda a, b: f"{m(a) / m(b):.3f}" if a and b else "—"
        # each daemon round with the apply --local round right after it (the same load)
        local_after = {int(r["round"]) - 1: float(r["command"]) for r in lo}
        pairs = [float(r["plug_to_deployed"]) / local_after[int(r["round"])] for r in d
                 if int(r["round"]) in local_after]
        pair = (f"{m(pairs):.3f} ({min(pairs):.3f}–{max(pairs):.3f}, n={len(pairs)})"
                if pairs else "—")
        out.append(f"| {b} | {cell(dp)} | {cell(di)} | {cell(lc)} | {cell(li)} "
                   f"| {ratio(dp, lc)} | {ratio(di, lc)} | {ratio(di, li)} | {pair} |")
        for label, rs in (("daemon", d), ("apply --local", lo)):
            if not rs:
                continue
            phases_rows.append(
                f"| {b} | {label} | " +
                " | ".join(f"{m(col(rs, p)):.2f}" for p in
                           ("unlock", "verify", "apply", "deploy", "end")) + " |")
    out.append("")
    out.append("### Where the time goes (medians of the phase times from the journal events, s)\n")
    out.append("| bundle | method | unlock (found → unlocked) | verify (→ verified) "
               "| check + apply (→ applied) | deploy (→ deployed) "
               "| end (deployed → Completed / exit) |")
    out.append("|---|---|---|---|---|---|---|")
    out.extend(phases_rows)
    print("\n".join(out))


def main():
    if len(sys.argv) in (11, 13) and sys.argv[1] == "round":
        round_row(sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] == "header":
        csv.writer(sys.stdout, lineterminator="\n").writerow(HEADER)
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
