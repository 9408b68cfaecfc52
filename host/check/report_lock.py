"""One writer at a time for an artifact's shared report files (hw_report.md, report.html).

Each harness run rewrites them from every board's results.json. Runs on several boards at once (`tinyrnn hwtest
-j N`, or people sharing a lab) would otherwise read a results.json another run is half-way through writing, or
overwrite a report that already listed a board with one that does not. An flock on a hidden file at the top of the
artifact directory (not in hw/: a run on your own recordings must not create the test split's board folder)
serialises the short write steps only; the runs themselves stay parallel.
"""
import fcntl
from contextlib import contextmanager
from pathlib import Path

LOCK_PATH = Path(".report.lock")     # at the top of the artifact directory


@contextmanager
def report_lock(model_dir):
    """Hold the artifact's report lock (blocking until other writers are done) for the `with` block."""
    path = Path(model_dir) / LOCK_PATH
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
