#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages say what the programs do: every option of each program's --help (read from
the built programs) is in its man page and every option the man page lists is in --help,
command by command; mediaupd.conf(5), the shipped mediaupd.conf and the parser's keys
(daemon/engine/mu-config.c) are the same set; the shipped file, every key uncommented,
is accepted by the real parser. TAP on stdout.

Environment: MEDIAUPD_SOURCE_ROOT, MEDIAUPD_BUILD_ROOT, MEDIAUPD, MEDIAUPDCTL,
MEDIAUPD_BUNDLE (the built programs)."""

import os
import re
import subprocess
import sys
import tempfile

SRC = os.environ["MEDIAUPD_SOURCE_ROOT"]
BUILD = os.environ["MEDIAUPD_BUILD_ROOT"]
MAN = os.path.join(BUILD, "man")

# An option: --long or -x, not part of a longer word.
OPTION_RE = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[a-zA-Z](?![\w-]))")

results = []


def check(desc, problems):
    results.append((desc, problems))


def help_text(argv):
    out = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, LC_ALL="C"))
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} --help: exit status {out.returncode}: {out.stderr}")
    return out.stdout


def help_options(text):
    """The options of a --help text: lines '  -k, --key=FILE   what it does'."""
    options = set()
    for line in text.splitlines():
        m = re.match(r"^  (-\S.*?)(?:\s{2,}|$)", line)
        if m:
            options.update(OPTION_RE.findall(m.group(1)))
    return options


def roff_plain(line):
    line = re.sub(r"^\.(?:B|I|BI|IB|BR|RB|IR|RI)\s+", "", line)
    line = re.sub(r"\\f[BIRP]", "", line)
    return line.replace("\\-", "-").replace('"', "")


def man_sections(page):
    """{(SH, SS): [.TP tag lines, plain]} of a man page."""
    sections = {}
    sh = ss = None
    lines = open(os.path.join(MAN, page)).read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            sh, ss = roff_plain(line[4:]).strip(), None
        elif line.startswith(".SS "):
            ss = roff_plain(line[4:]).strip()
        elif line == ".TP" and i + 1 < len(lines):
            sections.setdefault((sh, ss), []).append(roff_plain(lines[i + 1]))
    return sections


def man_options(sections, sh, ss=None):
    options = set()
    for tag in sections.get((sh, ss), []):
        options.update(OPTION_RE.findall(tag))
    return options


def compare(what, from_help, from_man, names=("--help", "the man page")):
    problems = []
    for o in sorted(from_help - from_man):
        problems.append(f"{what}: {o} is in {names[0]} but not in {names[1]}")
    for o in sorted(from_man - from_help):
        problems.append(f"{what}: {o} is in {names[1]} but not in {names[0]}")
    return problems


def check_single(page, argv, name):
    sections = man_sections(page)
    try:
        opts = help_options(help_text(argv))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        check(f"{page}: the options of {name} --help", [str(e)])
        return
    problems = compare(name, opts, man_options(sections, "OPTIONS"))
    if len(opts) < 2:
        problems.append(f"{name} --help shows {len(opts)} options: the help was not read")
    check(f"{page}: the options of {name} --help", problems)


def check_commands(page, program, name, commands):
    sections = man_sections(page)
    documented = {ss for (sh, ss) in sections if sh == "COMMANDS" and ss is not None}
    try:
        top = help_text([program])
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        check(f"{page}: the commands of {name} --help", [str(e)])
        return
    listed = set()
    in_commands = False
    for line in top.splitlines():
        if line.startswith("Commands:"):
            in_commands = True
        elif in_commands and re.match(r"^  [a-z]", line):
            listed.add(line.split()[0])
        elif in_commands and line.strip() == "":
            in_commands = False
    problems = compare(f"{name} commands", listed, documented)
    if not listed:
        problems.append(f"{name} --help lists no commands: the help was not read")
    check(f"{page}: the commands of {name} --help", problems)
    common = man_options(sections, "OPTIONS")
    for cmd in sorted(listed | set(commands)):
        try:
            opts = help_options(help_text([program, cmd]))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            check(f"{page}: the options of {name} {cmd} --help", [str(e)])
            continue
        problems = compare(f"{name} {cmd}", opts, man_options(sections, "COMMANDS", cmd) | common)
        if "--help" not in opts:
            problems.append(f"{name} {cmd} --help shows no --help: the help was not read")
        check(f"{page}: the options of {name} {cmd} --help", problems)


def parser_keys():
    """{group: {key}} of the keys mu-config.c consumes."""
    text = open(os.path.join(SRC, "daemon", "engine", "mu-config.c")).read()
    keys = {}
    local_group = None
    for m in re.finditer(r'const gchar \*g = "(\w+)"|consume_\w+\s*\(\s*kf,\s*(g|"\w+"),\s*"(\w+)"',
                         text):
        if m.group(1):
            local_group = m.group(1)
            continue
        group = local_group if m.group(2) == "g" else m.group(2).strip('"')
        keys.setdefault(group, set()).add(m.group(3))
    return keys


def man_keys():
    keys = {}
    for (sh, _), tags in man_sections("mediaupd.conf.5").items():
        m = re.fullmatch(r"\[(\w+)\]", sh or "")
        if not m:
            continue
        for tag in tags:
            k = re.match(r"\s*(\w+)=", tag)
            if k:
                keys.setdefault(m.group(1), set()).add(k.group(1))
    return keys


def shipped_keys():
    keys = {}
    group = None
    for line in open(os.path.join(SRC, "systemd", "mediaupd.conf")):
        g = re.match(r"^\[(\w+)\]", line)
        if g:
            group = g.group(1)
            keys.setdefault(group, set())
        k = re.match(r"^#([A-Z]\w*)=", line)
        if k:
            keys.setdefault(group, set()).add(k.group(1))
    return keys


def flat(keys):
    return {f"[{g}] {k}" for g, ks in keys.items() for k in ks}


def check_config_keys():
    parser = flat(parser_keys())
    problems = []
    if len(parser) < 10:
        problems.append(f"only {len(parser)} keys read from mu-config.c: its calls changed shape")
    problems += compare("mediaupd.conf(5)", parser, flat(man_keys()),
                        ("mu-config.c", "the man page"))
    check("mediaupd.conf.5: documents exactly the keys mu-config.c reads", problems)
    check("systemd/mediaupd.conf: shows exactly the keys mu-config.c reads",
          compare("the shipped mediaupd.conf", parser, flat(shipped_keys()),
                  ("mu-config.c", "systemd/mediaupd.conf")))


def run_parser(conf_text):
    """mediaupdctl apply --local on a missing bundle: exit status 2 is a configuration error,
    1 anything after the configuration was read. Run as nobody when root, so that it stops
    at the install lock at the latest."""
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "mediaupd.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        os.chmod(d, 0o755)
        os.chmod(conf, 0o644)
        argv = [os.environ["MEDIAUPDCTL"], "apply", "--local", os.path.join(d, "missing"),
                "--config", conf]
        if os.geteuid() == 0:
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=d)
        return out.returncode, out.stderr


def check_shipped_parses():
    text = open(os.path.join(SRC, "systemd", "mediaupd.conf")).read()
    uncommented = re.sub(r"(?m)^#([A-Z]\w*=)", r"\1", text)
    problems = []
    rc, err = run_parser(uncommented)
    if rc == 2 or "Configuration" in err:
        problems.append(f"the shipped defaults, uncommented, are refused (exit {rc}): {err.strip()}")
    # the same check sees a mistake: an unknown key in the same file is refused
    rc, err = run_parser(uncommented + "[Unlock]\nNoSuchKey=1\n")
    if rc != 2 or "NoSuchKey" not in err:
        problems.append(f"an unknown key was not refused (exit {rc}): {err.strip()}")
    check("systemd/mediaupd.conf: every default uncommented is accepted by the parser",
          problems)


check_single("mediaupd.8", [os.environ["MEDIAUPD"]], "mediaupd")
# The script hands every argument to 'mediaupd-bundle create': its page documents create's
# options, and its own --help names no option that create lacks.
check_single("make-encrypted-bundle.1", [os.environ["MEDIAUPD_BUNDLE"], "create"],
             "make-encrypted-bundle.sh (mediaupd-bundle create)")


def check_wrapper_usage():
    script = ["bash", os.path.join(SRC, "scripts", "make-encrypted-bundle.sh")]
    try:
        usage = set(OPTION_RE.findall(help_text(script).split("\n\n")[0]))
        create = help_options(help_text([os.environ["MEDIAUPD_BUNDLE"], "create"]))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        check("make-encrypted-bundle.sh: its usage names only options of create", [str(e)])
        return
    problems = [f"make-encrypted-bundle.sh: {o} is in its usage but not an option of create"
                for o in sorted(usage - create)]
    if len(usage) < 5:
        problems.append(f"make-encrypted-bundle.sh --help: {len(usage)} options read from the usage")
    check("make-encrypted-bundle.sh: its usage names only options of create", problems)


check_wrapper_usage()
check_commands("mediaupdctl.1", os.environ["MEDIAUPDCTL"], "mediaupdctl",
               ["status", "apply", "inspect", "watch", "cancel", "mark-good"])
check_commands("mediaupd-bundle.1", os.environ["MEDIAUPD_BUNDLE"], "mediaupd-bundle",
               ["keygen", "sign", "verify", "inspect", "create", "rekey", "sign-header"])
check_config_keys()
check_shipped_parses()

print(f"1..{len(results)}")
failed = 0
for i, (desc, problems) in enumerate(results, 1):
    if problems:
        failed += 1
        print(f"not ok {i} - {desc}")
        for p in problems:
            print(f"# {p}")
    else:
        print(f"ok {i} - {desc}")
sys.exit(1 if failed else 0)
