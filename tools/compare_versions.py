"""Print the packages whose installed version differs from the pinned one: ``pinned.txt installed.txt``.

Both files are pip requirement lines (``name==version``); names compare case- and separator-insensitively.
Used by ``make test-latest`` to say which upgrades the suite is about to meet.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def read_pins(path: str | Path) -> dict[str, str]:
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def differences(pinned: dict[str, str], installed: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(name, pinned version or '-', installed version or '-')`` for every package that differs."""
    names = sorted(set(pinned) | set(installed))
    return [(n, pinned.get(n, "-"), installed.get(n, "-")) for n in names if pinned.get(n) != installed.get(n)]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: compare_versions.py PINNED INSTALLED", file=sys.stderr)
        return 2
    diff = differences(read_pins(argv[0]), read_pins(argv[1]))
    if not diff:
        print("newest allowed versions = the pinned ones")
        return 0
    width = max(len(n) for n, _, _ in diff)
    print(f"{len(diff)} package(s) differ from {argv[0]} (pinned -> newest allowed):")
    for name, old, new in diff:
        print(f"  {name:<{width}}  {old} -> {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
