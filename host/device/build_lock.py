"""One builder at a time for each build output, across processes.

Builds are cached below build/ and shared by every command run in that folder: `tinyrnn flash` in one terminal and
`tinyrnn hwtest -j 2` in another, or two test workers, may want the same firmware, natmod or MicroPython source tree
at once. Two makes writing the same object files, or one removing the folder another is building in, leave a
broken build. The lock is an flock on a hidden file beside the output (the kernel drops it if the holder dies), held
around the freshness check and the build: whoever comes second waits, then finds the first one's output fresh.
"""
import fcntl
import sys
from contextlib import contextmanager
from pathlib import Path


def lock_path(output: Path) -> Path:
    """The lock file of a build output (a file or a folder): `.<name>.lock` beside it."""
    return output.parent / f".{output.name}.lock"


@contextmanager
def build_lock(output: Path, what: str | None = None):
    """Hold `output`'s build lock for the `with` block, saying once on stderr what it waits for if another
    process holds it (`what`: e.g. "the qemu-mps2-an386 firmware")."""
    path = lock_path(Path(output))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process building {what or output} ...", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
