"""Which other processes have a serial port open, where the OS can tell (Linux: /proc/<pid>/fd).

The harness's lock on a port (flock) is advisory: a second harness is refused, but a plain reader that takes no
lock (cat, screen, a terminal program) can still open the port and take bytes meant for the harness. Naming the
programs that hold the port turns "the board answers garbage" into something a user can act on.
"""
from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def other_users(port: str) -> list[str]:
    """"name (pid N)" for every other process with `port` open; [] where the OS cannot tell (no /proc, a URL,
    processes of other users)."""
    try:
        target = os.path.realpath(port)
    except (OSError, ValueError):
        return []
    if not target.startswith("/dev/") or not PROC.is_dir():
        return []
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            holds = any(os.readlink(fd) == target for fd in (entry / "fd").iterdir())
            name = (entry / "comm").read_text().strip() if holds else ""
        except OSError:                     # gone meanwhile, or not ours to look at
            continue
        if holds:
            found.append(f"{name} (pid {entry.name})")
    return found
