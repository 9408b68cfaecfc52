"""A test of the tests: the suite's timing-sensitive tests, run beside a CPU hog on every core.

The interrupt-driven receive tests (tests/test_link_faults.py) depend on how fast the host pushes bytes into the
emulator; a loaded machine once made the ring-overflow test see `rx_dropped == 0`. Here they run in a child pytest
while `stress-ng` keeps every core busy, and must pass every time. TINYRNN_LOAD_RUNS (default 1) sets how many
times; each run prints how it went and how long it took, so the figure can be quoted."""

import os
import shutil
import subprocess
import sys
import time

from pathlib import Path

import pytest

pytestmark = [pytest.mark.emulator,
              pytest.mark.skipif(not shutil.which("stress-ng"), reason="needs stress-ng (make toolchain installs it)"),
              pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                 reason="needs arm-none-eabi-gcc and qemu-system-arm")]

TESTS = Path(__file__).resolve().parent
# the tests whose conditions depend on the host's speed (bytes reaching the emulated UART while the board computes)
LOAD_SENSITIVE = "takes_bytes or ring_overflow or polled_receive"


def _hog(seconds):
    """stress-ng on every core, stopped by the caller (by its pid) or by its own timeout."""
    return subprocess.Popen(["stress-ng", "--cpu", str(os.cpu_count() or 2), "--timeout", f"{seconds}s", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_the_timing_sensitive_tests_pass_with_every_core_busy(tmp_path):
    runs = int(os.environ.get("TINYRNN_LOAD_RUNS", "1"))
    outcomes = []
    for run in range(runs):
        hog = _hog(600)
        started = time.monotonic()
        try:
            child = subprocess.run([sys.executable, "-m", "pytest", str(TESTS / "test_link_faults.py"), "-q",
                                    "-p", "no:cacheprovider", "-k", LOAD_SENSITIVE, "--basetemp",
                                    str(tmp_path / f"run{run}")],
                                   capture_output=True, text=True, timeout=900, cwd=TESTS.parent)
        finally:
            hog.terminate()
            hog.wait()
        summary = (child.stdout.strip().splitlines() or ["(no output)"])[-1]
        outcomes.append((child.returncode, summary))
        print(f"under load, run {run + 1}/{runs}: {summary} ({time.monotonic() - started:.0f} s)")
        if child.returncode != 0:
            print(child.stdout[-4000:])
    passed = sum(code == 0 for code, _ in outcomes)
    assert passed == runs, f"{passed} of {runs} runs passed with every core busy: {outcomes}"
