"""The kit as a user installs it: the wheel, in a fresh virtual environment outside the repository, without the
train extra. There `tinyrnn --help` works, an artifact directory trained here is flashed to the default
emulated board, checked by the harness and by the packaged hardware suite through pytest, and TensorFlow is
never imported on that path. Needs network access to PyPI for the base dependencies (pip's cache makes the
second run fast), arm-none-eabi-gcc and qemu-system-arm (CI installs them)."""

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.synthetic import make_sequences, write_npz

pytestmark = pytest.mark.emulator

REPO = Path(__file__).resolve().parent.parent
BOARD = "qemu-mps2-an386"
# Modules that mean "the train extra was needed": none may be imported by flashing and checking a board.
TRAIN_ONLY = ("tensorflow", "keras", "ai_edge_litert", "sktime", "pandas", "sklearn")


def run(cmd, cwd, timeout=600, env=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin dir, work dir): the wheel built from this checkout, installed without extras."""
    root = tmp_path_factory.mktemp("user")
    wheels = root / "wheels"
    # setuptools stages the wheel in build/lib: a file left there by an older checkout would ship again
    shutil.rmtree(REPO / "build" / "lib", ignore_errors=True)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, REPO],
        cwd=root)
    wheel = next(wheels.glob("tinyrnn-*.whl"))
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    run([bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel], cwd=root)
    work = root / "work"
    work.mkdir()
    return bin_dir, work


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small real model trained by this suite (tinyrnn train, in the development environment)."""
    root = tmp_path_factory.mktemp("trained")
    data = root / "seqs.npz"
    write_npz(data, *make_sequences(n=40, length=10, channels=3, classes=3))
    out = root / "tiny-gru8"
    run([sys.executable, "-m", "tinyrnn.host.cli", "train", "--data", data, "--units", "8", "--epochs", "3",
         "--grid-epochs", "1", "--calibration-samples", "200", "--out", out, "--quiet"], cwd=root)
    return out


def test_wheel_installs_one_namespace_and_no_training_stack(installed):
    bin_dir, work = installed
    site = run([bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work)
    top = {p.name for p in Path(site.stdout.strip()).iterdir()}
    assert "tinyrnn" in top and not {"host", "quantize", "firmware", "boards"} & top, sorted(top)
    assert not any(name.startswith(("tensorflow", "keras")) for name in top)
    help_text = run([bin_dir / "tinyrnn", "--help"], work).stdout
    for command in ("train", "export", "predict", "flash", "harness", "hwtest", "demo", "bench", "mpserve"):
        assert f"\n  {command} " in help_text


def test_training_without_the_extra_is_one_clear_line(installed):
    bin_dir, work = installed
    proc = subprocess.run([bin_dir / "tinyrnn", "train", "--out", "x"], cwd=work, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "pip install 'tinyrnn[train]'" in proc.stderr and "Traceback" not in proc.stderr


def test_flash_harness_and_packaged_suite_from_the_wheel(installed, trained):
    """The board-side path on a machine without TensorFlow, from a directory outside the repository."""
    bin_dir, work = installed
    model = work / "model"
    run(["cp", "-r", trained, model], work)
    env = dict(os.environ, TINYRNN_RUN_DIR=str(work / "run"))
    flash = run([bin_dir / "tinyrnn", "flash", "--board", BOARD, "--model", model], work, env=env)
    port = re.search(r"^port: (\S+)", flash.stdout, re.M)
    assert port, flash.stdout
    try:
        assert (work / "build" / "fw" / BOARD).is_dir()          # writes go to the current directory
        harness = run([bin_dir / "tinyrnn", "harness", "--port", port[1], "--model", model, "--quiet",
                       "--no-plots"], work, env=env)
        assert harness.stdout.rstrip().endswith("PASS") and "bit-exact vs twin: OK" in harness.stdout
        suite = run([bin_dir / "python", "-m", "pytest", "--pyargs", "tinyrnn.hwtests", "--port", port[1],
                     "--model", model, "-q", "-p", "no:cacheprovider"], work, env=env)
        assert re.search(r"[12][0-9] passed", suite.stdout) and "failed" not in suite.stdout, suite.stdout
    finally:
        run([bin_dir / "tinyrnn", "flash", "--stop", "all"], work, env=env)
    results = json.loads((model / "hw" / BOARD / "results.json").read_text())
    assert results["bit_exact"]["mismatched_values"] == 0


def test_board_side_never_imports_the_training_stack(installed, trained):
    """Every command module, the harness, the twin, the C export and the pytest plugin, loaded in the wheel's
    environment (which has no TensorFlow to fall back on) and checked for the training-only modules."""
    bin_dir, work = installed
    probe = ("import sys, importlib\n"
             "from tinyrnn.host import cli\n"
             "for m in cli.COMMANDS.values(): importlib.import_module(m)\n"
             "import tinyrnn.host.check.pytest_plugin, tinyrnn.hwtests.test_board\n"
             "from tinyrnn.quantize.emit.export import export\n"
             f"export({str(trained)!r}, progress=False)\n"
             f"bad = [m for m in sys.modules if m.split('.')[0] in {TRAIN_ONLY!r}]\n"
             "print('imported:', bad)\n")
    out = run([bin_dir / "python", "-c", probe], work).stdout
    assert "imported: []" in out, out


def test_predict_your_recordings_from_the_wheel(installed, trained):
    """`tinyrnn predict` on a CSV of recordings, with only the base dependencies (its CSV reader is numpy's
    and the standard library's, not pandas)."""
    bin_dir, work = installed
    split = __import__("numpy").load(trained / "test_split.npz")
    lines = ["sequence_id,label,a,b,c"]
    for i in range(3):
        lines += [f"s{i},,{','.join(repr(float(v)) for v in frame)}" for frame in split["x"][i, :split["lengths"][i]]]
    (work / "mine.csv").write_text("\n".join(lines) + "\n")
    out = run([bin_dir / "tinyrnn", "predict", "--model", trained, work / "mine.csv"], work).stdout
    assert "twin vs float: final argmax agreement" in out
    assert sum(line.split()[0] in ("s0", "s1", "s2") for line in out.splitlines() if line.strip()) == 3


def test_pytest_plugin_ends_the_session_once_for_a_wrong_model(installed, trained, tmp_path):
    """A board running another model: one line, not a failure per test."""
    bin_dir, work = installed
    other = tmp_path / "other"
    run([bin_dir / "python", "-c", "from tinyrnn.quantize.reference.synthetic import make_artifact; "
         f"make_artifact({str(other)!r}, units=8, d=3, k=3, n=3, steps=6, seed=7)"], work)
    env = dict(os.environ, TINYRNN_RUN_DIR=str(tmp_path / "run"))
    flash = run([bin_dir / "tinyrnn", "flash", "--board", BOARD, "--model", other], work, env=env)
    port = re.search(r"^port: (\S+)", flash.stdout, re.M)[1]
    try:
        proc = subprocess.run([bin_dir / "python", "-m", "pytest", "--pyargs", "tinyrnn.hwtests", "--port", port,
                               "--model", str(trained), "-q", "-p", "no:cacheprovider"], cwd=work,
                              capture_output=True, text=True, timeout=300)
    finally:
        run([bin_dir / "tinyrnn", "flash", "--stop", "all"], work, env=env)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert out.count("runs model") == 1 and "tinyrnn flash" in out, out
    assert "failed" not in out, out
