#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ci-job-script.py YAML JOB: prints, as a bash script, what a GitLab runner runs for the job
# JOB of the GitLab CI file YAML: the job's `variables:` (and the file's global ones) as
# exports, then its `script:` lines in order, in one shell. `before_script:` and
# `after_script:` are not printed (the test runs what the job's own user runs). With
# --field NAME, prints instead the job's variable NAME, or `artifacts` (the artifact paths,
# one a line). Exit status 1 with a message when the file has no such job or field.
import shlex
import sys

import yaml


def main():
    args = sys.argv[1:]
    field = None
    if len(args) == 4 and args[2] == "--field":
        field = args[3]
        args = args[:2]
    if len(args) != 2:
        sys.exit("usage: ci-job-script.py YAML JOB [--field NAME]")
    path, name = args
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    job = doc.get(name) if isinstance(doc, dict) else None
    if not isinstance(job, dict):
        sys.exit(f"ci-job-script.py: {path} has no job '{name}'")
    variables = dict(doc.get("variables") or {})
    variables.update(job.get("variables") or {})
    if field == "artifacts":
        for p in (job.get("artifacts") or {}).get("paths") or []:
            print(p)
        return
    if field is not None:
        if field not in variables:
            sys.exit(f"ci-job-script.py: job '{name}' has no variable '{field}'")
        print(variables[field])
        return
    script = job.get("script")
    if not isinstance(script, list) or not script:
        sys.exit(f"ci-job-script.py: job '{name}' has no script lines")
    for key, value in variables.items():
        print(f"export {key}={shlex.quote(str(value))}")
    for line in script:
        # GitLab allows nested lists of lines (YAML anchors); flatten one level
        for item in line if isinstance(line, list) else [line]:
            print(item)


main()
