"""Run the hardware tests on every emulated board: build, start QEMU, pytest tests/hw, harness report, stop.

    python host/hwtest.py                                   # every emulated board, the default model
    python host/hwtest.py --model build/basic_motions-gru32 --board qemu-microbit
    python host/hwtest.py --no-harness                      # tests only, no results.json / report
    python host/hwtest.py --synthetic                       # no training needed: a synthetic GRU(16) model

For each board: `make -C firmware` (refuses a model that does not fit), QEMU in the background,
`pytest tests/hw --port <pty> --model <dir>`, then `host/harness.py` for the report, and QEMU is stopped
whatever happens (no stray emulators). The model directory must have its C generated
(`python -m quantize.export DIR`); this runs it if c/model_data.h is missing. Exit status 0 only if every
board passed.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):          # run as a script: python host/hwtest.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from host import qemu
from host.boards import ROOT, board_names, load_board
from host.errors import TinyRNNError
from host.flash import build, ensure_exported

DEFAULT_MODEL = ROOT / "build" / "basic_motions-gru32"
SYNTHETIC_MODEL = ROOT / "build" / "synthetic-gru16"


def make_synthetic(path):
    """A small random GRU artifact (quantize/synthetic.py): exercises every board without a trained model."""
    if not (path / "model.json").is_file():
        from quantize.synthetic import make_artifact
        make_artifact(path, cell="gru", units=16, n=12, steps=60, seed=1)
    return path


def run_board(board, model_dir, harness=True, pytest_args=()):
    """Returns a summary dict for one board; QEMU is always stopped."""
    summary = {"board": board.name, "build": "-", "tests": "-", "harness": "-", "seconds": 0.0}
    started = time.monotonic()
    try:
        elf = build(board, model_dir)
        summary["build"] = "ok"
        record = qemu.start(board, elf)
        try:
            print(f"[hwtest] {board.name}: QEMU pid {record.pid} on {record.port}", flush=True)
            tests = subprocess.run([sys.executable, "-m", "pytest", "tests/hw", "--port", record.port,
                                    "--model", str(model_dir), "-q", "--tb=short", "-p", "no:cacheprovider",
                                    *pytest_args], cwd=ROOT)
            summary["tests"] = "passed" if tests.returncode == 0 else f"FAILED (exit {tests.returncode})"
            if harness:
                report = subprocess.run([sys.executable, "host/harness.py", "--port", record.port,
                                         "--model", str(model_dir), "--quiet"], cwd=ROOT)
                # exit 1 = a fidelity target missed (the tests above decide whether that is the kernel's known
                # shortfall or the board's fault); exit 2 = the harness itself could not run.
                summary["harness"] = {0: "pass", 1: "targets missed"}.get(report.returncode,
                                                                         f"error (exit {report.returncode})")
        finally:
            qemu.stop(board.name)
    except TinyRNNError as e:
        summary["build" if summary["build"] == "-" else "tests"] = f"error: {e}"
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="artifact directory (default %(default)s)")
    ap.add_argument("--synthetic", action="store_true", help=f"use a synthetic model ({SYNTHETIC_MODEL.name})")
    ap.add_argument("--board", action="append", help="only this emulated board (repeatable)")
    ap.add_argument("--no-harness", action="store_true", help="skip the harness report after the tests")
    args, pytest_args = ap.parse_known_args(argv)
    model_dir = make_synthetic(SYNTHETIC_MODEL) if args.synthetic else args.model.resolve()
    if not (model_dir / "model.json").is_file():
        print(f"error: {model_dir}: no model.json (train one: python host/train.py)", file=sys.stderr)
        return 2
    ensure_exported(model_dir)
    names = args.board or [n for n in board_names() if load_board(n).emulated]
    results = []
    for name in names:
        board = load_board(name)
        if not board.emulated:
            print(f"error: {name} is not an emulated board", file=sys.stderr)
            return 2
        print(f"\n[hwtest] === {name} ===", flush=True)
        results.append(run_board(board, model_dir, harness=not args.no_harness, pytest_args=pytest_args))

    print(f"\n[hwtest] summary ({model_dir.name})")
    print(f"{'board':22s} {'build':8s} {'tests/hw':18s} {'harness':15s} seconds")
    for r in results:
        print(f"{r['board']:22s} {r['build'][:8]:8s} {r['tests'][:18]:18s} {r['harness'][:15]:15s} {r['seconds']}")
        for key in ("build", "tests"):
            if r[key].startswith("error"):
                print(f"    {r[key]}")
    ok = all(r["build"] == "ok" and r["tests"] == "passed" and not r["harness"].startswith("error") for r in results)
    passed = sum(r["tests"] == "passed" for r in results)
    print(f"boards: {passed} passed, {len(results) - passed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
