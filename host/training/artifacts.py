"""Writing the artifact directory atomically (see docs/artifacts.md).

Everything is written into a temporary sibling directory which is renamed into place only when complete,
so an interrupted or failed run never leaves a half-written artifact directory behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from tinyrnn.quantize.errors import UserError


def check_destination(out: Path, force: bool) -> None:
    """Fail early (before training) if `out` exists and may not be replaced, or cannot be written: creates
    its parent and probes it with a temporary file (created and removed at once)."""
    out = Path(out)
    if out.exists() and not force:
        raise UserError(f"'{out}' already exists", "pass --force to replace it, or choose another --out")
    if out.exists() and not out.is_dir():
        raise UserError(f"'{out}' exists and is not a directory", "remove it or choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.probe-", dir=out.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"cannot write next to '{out}' ({exc.strerror or exc})",
                        "choose an --out in a writable place") from None


@contextlib.contextmanager
def staged_directory(out: Path, force: bool):
    """Yield a temporary directory next to `out`; on success move it to `out`, on failure delete it."""
    out = Path(out)
    check_destination(out, force)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise UserError(f"cannot create a directory next to '{out}' ({exc.strerror})",
                        "choose an --out in a writable place") from None
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; an artifact directory is an ordinary folder
        _move_into_place(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp: Path, out: Path, force: bool) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    check_destination(out, force)  # someone may have created it while we trained
    # Swap: old aside, new in, then delete the old one; `out` is missing only between two renames.
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)  # put the previous one back
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_json(path: Path, data) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
