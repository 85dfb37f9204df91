#!/usr/bin/python3
"""Send QMP commands to a running QEMU and print their results.

Usage: qmp.py SOCKET COMMAND_JSON...

Each COMMAND_JSON is one QMP command object, e.g. '{"execute": "query-status"}'. The commands
run in order over one connection; the "return" value of each is printed as one JSON line.
Asynchronous events are skipped. Exits 1 with QEMU's error text at the first failing command.
"""

import json
import socket
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(60)
    try:
        sock.connect(sys.argv[1])
    except OSError as e:
        print(f"qmp: cannot connect to {sys.argv[1]}: {e}; is the guest running?", file=sys.stderr)
        return 1
    stream = sock.makefile("rwb", buffering=0)

    def reply():
        while True:
            line = stream.readline()
            if not line:
                raise EOFError("QEMU closed the QMP connection")
            msg = json.loads(line)
            if "event" in msg:
                continue
            return msg

    greeting = reply()
    if "QMP" not in greeting:
        print(f"qmp: unexpected greeting {greeting}", file=sys.stderr)
        return 1
    commands = [{"execute": "qmp_capabilities"}] + [json.loads(a) for a in sys.argv[2:]]
    for n, cmd in enumerate(commands):
        stream.write(json.dumps(cmd).encode() + b"\n")
        msg = reply()
        if "error" in msg:
            err = msg["error"]
            print(f"qmp: {cmd.get('execute')}: {err.get('class')}: {err.get('desc')}", file=sys.stderr)
            return 1
        if n > 0:
            print(json.dumps(msg.get("return")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
