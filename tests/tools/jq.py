"""`jq` for the tests, on jq's own C library (the PyPI package `jq`).

It takes what the documented examples use: `-r`, `-c`, `-e`, one filter, then files or stdin.
"""

import json
import sys

import jq


def main(argv):
    raw = compact = exit_status = False
    rest = []
    for arg in argv:
        if arg in ("-r", "--raw-output"):
            raw = True
        elif arg in ("-c", "--compact-output"):
            compact = True
        elif arg in ("-e", "--exit-status"):
            exit_status = True
        else:
            rest.append(arg)
    if not rest:
        print("usage: jq [-r] [-c] [-e] FILTER [FILE...]", file=sys.stderr)
        return 2
    program = jq.compile(rest[0])
    texts = [open(path, encoding="utf-8").read() for path in rest[1:]] or [sys.stdin.read()]
    last = None
    for text in texts:
        for value in program.input_text(text).all():
            last = value
            if raw and isinstance(value, str):
                print(value)
            elif compact:
                print(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
            else:
                print(json.dumps(value, indent=2, ensure_ascii=False))
    if exit_status and last in (None, False):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ValueError as error:
        print(f"jq: error: {error}", file=sys.stderr)
        sys.exit(5)
