"""The suite's own end-of-run notes (tests/conftest.py): what was skipped for want of something the user can
provide is said once, at the end, with how to provide it."""

import shutil
import subprocess
import sys

from pathlib import Path

import pytest

pytestmark = pytest.mark.fast
CONFTEST = Path(__file__).resolve().parent / "conftest.py"

SKIPPING = '''
import pytest
from tinyrnn.host.device.micropython.builds import MicroPythonMissing

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("n", [1, 2])
def test_needs_micropython(n):
    pytest.skip(str(MicroPythonMissing("no MicroPython v1.28.0 source (MICROPY_DIR unset, no archive, git clone "
                                       "failed)", "set MICROPY_DIR to a MicroPython v1.28.0 checkout")))


def test_other():
    pass
'''


def _run(tmp_path, body):
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_case.py").write_text(body)
    return subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_skipped_micropython_builds_are_named_once_at_the_end_with_the_fix(tmp_path):
    out = _run(tmp_path, SKIPPING).stdout
    notes = [line for line in out.splitlines() if line.startswith("note: tests that build MicroPython")]
    assert len(notes) == 1, out
    assert "test_case.py" in notes[0] and "set MICROPY_DIR" in notes[0], notes[0]


def test_no_note_when_nothing_was_skipped_for_it(tmp_path):
    out = _run(tmp_path, SKIPPING.replace("pytest.skip(str(MicroPythonMissing", "(str(MicroPythonMissing")).stdout
    assert "note:" not in out and " passed" in out, out


REPO = CONFTEST.parent.parent


@pytest.mark.parametrize("port", [None, ""])
def test_the_packaged_hardware_suite_without_a_port_is_an_error(tmp_path, port):
    """`pytest --pyargs tinyrnn.hwtests` in a CI job whose port variable is unset must not pass having tested
    nothing."""
    argv = [sys.executable, "-m", "pytest", "--pyargs", "tinyrnn.hwtests", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(argv + ([] if port is None else ["--port", port]), capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout + proc.stderr
    assert "the hardware suite needs a board: --port is missing or empty" in proc.stderr


def test_in_the_repositorys_own_run_the_hardware_tests_just_skip(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/hw", "tests/test_layers.py", "--collect-only", "-q",
                           "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
