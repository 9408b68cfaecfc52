"""`tinyrnn hwtest -j N`: boards at once, one worker each, per-board logs, one summary and one JUnit file in the
boards' order. The scheduling is checked with a fake board run (no emulator: a barrier proves the workers
overlap, whatever the load); one real run on two emulated boards checks the whole path."""
import os
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinyrnn.host.commands import hwtest
from tinyrnn.host.device.boards import load_board
from tinyrnn.host.device.targets import target_for

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parent.parent
BOARDS = ["qemu-mps2-an385", "qemu-mps2-an386"]


def test_workers_overlap_and_results_keep_the_boards_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    together = threading.Barrier(2, timeout=30)     # broken (an exception) unless both boards run at once

    def fake_run_board(board, model_dir, junit_path=None, log=None, target=None, **options):
        together.wait()
        print(f"{board.name} tests", file=log)
        return {"board": board.name, "build": "ok", "tests": "passed", "harness": "pass", "seconds": 0.0}
    monkeypatch.setattr(hwtest, "run_board", fake_run_board)
    targets = [target_for(load_board(name)) for name in BOARDS]
    results = hwtest.run_parallel(targets, tmp_path, 2, tmp_path / "parts", harness=True, pytest_args=())
    assert [r["board"] for r in results] == BOARDS
    out = capsys.readouterr().out
    for name in BOARDS:
        assert (hwtest.LOG_DIR / f"{name}.log").read_text() == f"{name} tests\n"
        assert f"[hwtest] {name}: build ok, tests passed, harness pass" in out


def test_zero_workers_is_refused_in_one_line():
    done = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "-j", "0", "--synthetic"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: argument -j/--jobs: 0 is not >= 1"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_two_emulated_boards_at_once(tmp_path):
    """The real path: two boards with -j 2 (their own builds, QEMUs, pytest and harness runs), each board's log,
    one JUnit file with both suites in the boards' order, exit 0."""
    env = dict(os.environ, BUILD_DIR=str(tmp_path / "fw"))
    cmd = [sys.executable, "-m", "tinyrnn.host.cli", "hwtest", "-j", "2", "--synthetic"]
    for name in BOARDS:
        cmd += ["--board", name]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "boards: 2 passed, 0 failed" in done.stdout
    suites = ET.parse(tmp_path / hwtest.JUNIT_XML).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == BOARDS
    assert all(int(s.get("tests")) > 10 and s.get("failures") == "0" and s.get("errors") == "0" for s in suites)
    for name in BOARDS:
        log = (tmp_path / hwtest.LOG_DIR / f"{name}.log").read_text()
        assert " passed" in log and "PASS" in log, log[-2000:]
        assert f"[hwtest] {name}: build ok, tests passed, harness pass" in done.stdout
