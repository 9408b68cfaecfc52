"""Run the hardware suite on every emulated board: build, start QEMU, the tests, the harness report, stop.

Every emulated board, that is, except those whose board.toml says hwtest_default = false (MicroPython on M3/M7:
CI time); --board runs any.

For each board: the firmware build (refuses a model that does not fit), QEMU in the background,
`pytest --pyargs tinyrnn.hwtests --port <pty> --model <dir>` (the packaged hardware suite), then the harness
for the report, and QEMU is stopped whatever happens (no stray emulators). The model's C is generated if it
is missing or of another weight layout. Exit status 0 only if every board passed; JUnit XML (one test suite per
board) for CI systems in build/hwtest-junit.xml.

-j N runs N boards at once, one worker per board: each board's output goes to build/hwtest-logs/<board>.log
and one line is printed as it finishes; the summary and the JUnit file are the same as a sequential run's.
Builds stay one at a time (make's own -j uses the cores); the emulators' instruction counts do not depend on
load (QEMU -icount), so the verdicts and figures are those of a sequential run.

The emulators are recorded in build/run-hwtest/, not in `tinyrnn flash`'s run directory (build/run/, or
$TINYRNN_RUN_DIR): an emulator you started with `tinyrnn flash` keeps running.
"""
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import xml.etree.ElementTree as ET
from pathlib import Path

from tinyrnn.host.commands.base import at_least
from tinyrnn.host.commands.options import add_board, add_model
from tinyrnn.host.defaults import DEFAULT_MODEL
from tinyrnn.host.device.boards import board_names
from tinyrnn.host.device.firmware import ensure_exported
from tinyrnn.host.device.micropython.builds import MicroPythonMissing
from tinyrnn.host.device.place import DEFAULT_COORDINATOR, load_place_target
from tinyrnn.host.device.targets import load_target, target_for
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.host.report.html import REPORT_NAME
from tinyrnn.quantize.artifact import WEIGHTS_NAME, Artifact
from tinyrnn.quantize.reference.synthetic import make_artifact

EXAMPLES = """\
  {prog}                                   # every emulated board, the default model
  {prog} --model build/basic_motions-gru32 --board qemu-microbit
  {prog} --no-harness                      # tests only, no results.json / report
  {prog} --synthetic                       # no training needed: a synthetic GRU(16) model
  {prog} -j 4                              # four boards at once (logs in build/hwtest-logs/)
  {prog} -j 2 --place lab1-an386 --place lab2-m7 --coordinator lab:20408   # labgrid places
  {prog} -- -k latency -x                  # options after -- go to pytest
"""
SYNTHETIC_MODEL = Path("build") / "synthetic-gru16"
RUN_DIR = Path("build") / "run-hwtest"   # its own emulator records: never stops one the user started
JUNIT_XML = Path("build") / "hwtest-junit.xml"
LOG_DIR = Path("build") / "hwtest-logs"   # one log per board with -j N
BUILD_LOCK = threading.Lock()             # one firmware/MicroPython build at a time (they share tool caches)


def make_synthetic(path):
    """A small random GRU artifact (quantize/reference/synthetic.py): exercises every board without a trained model."""
    if not Artifact.exists(path):
        make_artifact(path, cell="gru", units=16, n=12, steps=60, seed=1)
    return path


def run_board(board, model_dir, harness=True, pytest_args=(), junit_path=None, log=None, target=None):
    """Returns a summary dict for one board (its Target builds and starts it: the kit's firmware, or MicroPython's
    with the model deployed and the server started); QEMU is always stopped. The hardware suite's JUnit XML goes
    to `junit_path` (a test suite named after the board). The tests' and harness's output go to `log` (an open
    file; None: this process's stdout). `target`: how to reach the board (default: its own Target; a labgrid
    place's wraps it)."""
    target = target or target_for(board)
    summary = {"board": board.name, "build": "-", "tests": "-", "harness": "-", "seconds": 0.0}
    junit = [f"--junitxml={junit_path}", "-o", f"junit_suite_name={board.name}"] if junit_path else []
    output = {"stdout": log, "stderr": subprocess.STDOUT} if log else {}
    started = time.monotonic()
    try:
        with BUILD_LOCK:
            image = target.build(model_dir)
        summary["build"] = "ok"
        record = target.start(model_dir, image, run_dir=RUN_DIR)
        try:
            where = f"QEMU pid {record.pid} on {record.port}" if record.pid else f"{record.port} ({record.note})"
            print(f"[hwtest] {board.name}: {where}", file=log or sys.stdout, flush=True)
            tests = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "tinyrnn.hwtests",
                                    "--port", record.port, "--model", str(model_dir), "-q", "--tb=short",
                                    "-p", "no:cacheprovider", "--import-mode=importlib", *junit, *pytest_args],
                                   **output)
            summary["tests"] = "passed" if tests.returncode == 0 else f"FAILED (exit {tests.returncode})"
            if harness:
                report = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "harness", "--port", record.port,
                                         "--model", str(model_dir), "--quiet"], **output)
                # exit 1 = a fidelity target missed (the tests above decide whether that is the kernel's known
                # shortfall or the board's fault); exit 2 = the harness itself could not run.
                summary["harness"] = {0: "pass", 1: "targets missed"}.get(report.returncode,
                                                                         f"error (exit {report.returncode})")
        finally:
            target.stop(run_dir=RUN_DIR)
    except MicroPythonMissing as e:     # no MicroPython source: that board skips, saying why
        summary["build"], summary["tests"] = "skipped", f"skipped: {e}"
    except TinyRNNError as e:
        summary["build" if summary["build"] == "-" else "tests"] = f"error: {e}"
    summary["seconds"] = round(time.monotonic() - started, 1)
    return summary


def add_arguments(p):
    p.usage = "%(prog)s [options] [-- PYTEST_OPTIONS...]"
    add_model(p, default=DEFAULT_MODEL)
    p.add_argument("--synthetic", action="store_true", help=f"use a synthetic model ({SYNTHETIC_MODEL.name})")
    add_board(p, repeatable=True, what="only this emulated board", note="repeatable")
    p.add_argument("--place", action="append", metavar="NAME",
                   help="the board at this labgrid place (repeatable): acquired, tested over its network serial "
                        "port, released (docs/farm.md)")
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help=f"labgrid coordinator for --place (default $LG_COORDINATOR, else {DEFAULT_COORDINATOR})")
    p.add_argument("--no-harness", action="store_true", help="skip the harness report after the tests")
    p.add_argument("-j", "--jobs", type=at_least(1), default=1, metavar="N",
                   help=f"boards at once, one worker each (default 1); with N > 1 each board's output goes to "
                        f"{LOG_DIR}/BOARD.log")
    p.add_argument("--junit-xml", type=Path, default=JUNIT_XML, metavar="FILE",
                   help="JUnit XML for CI systems, one test suite per board (default %(default)s)")
    p.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_OPTIONS",
                   help="options after -- go to pytest unchecked (e.g. -- -k latency -x)")


def run(args) -> int:
    # Boards first: a mistyped board name is reported whether or not the model exists yet.
    if args.place:
        targets = [load_place_target(name, args.coordinator) for name in args.place]
        targets += [load_target(name) for name in args.board or ()]
    else:
        targets = [load_target(name) for name in args.board] if args.board else \
            [t for t in map(load_target, board_names()) if t.unattended and t.board.hwtest_default]
    for target in targets:
        if not target.unattended:
            raise UserError(f"{target.name} is not an emulated board",
                            f"flash it (tinyrnn flash --board {target.name}) and run pytest --pyargs "
                            "tinyrnn.hwtests --port PORT")
    model_dir = make_synthetic(SYNTHETIC_MODEL) if args.synthetic else args.model.resolve()
    if not Artifact.exists(model_dir):
        raise UserError(f"{model_dir}: no model.json", "train one: tinyrnn train (or use --synthetic)")
    artifact = Artifact.open(model_dir)
    if not artifact.has(WEIGHTS_NAME) and not (artifact.c_dir / "model_data.h").is_file():
        raise UserError(f"{model_dir}: no weights.npz to generate the C from", "retrain: tinyrnn train --force")
    ensure_exported(model_dir)
    results = []
    parts_dir = args.junit_xml.parent / f".{args.junit_xml.name}.parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    options = {"harness": not args.no_harness, "pytest_args": args.pytest_args}
    if args.jobs > 1:
        results = run_parallel(targets, model_dir, args.jobs, parts_dir, **options)
    else:
        for target in targets:
            board = target.board
            print(f"\n[hwtest] === {board.name} ===", flush=True)
            results.append(run_board(board, model_dir, junit_path=parts_dir / f"{board.name}.xml", target=target,
                                     **options))
    write_junit(args.junit_xml, results, parts_dir)

    print(f"\n[hwtest] summary ({model_dir.name})")
    print(f"{'board':22s} {'build':8s} {'tests/hw':18s} {'harness':15s} seconds")
    for r in results:
        print(f"{r['board']:22s} {r['build'][:8]:8s} {r['tests'][:18]:18s} {r['harness'][:15]:15s} {r['seconds']}")
        for key in ("build", "tests"):
            if r[key].startswith("error"):
                print(f"    {r[key]}")
    for r in results:
        if r["build"] == "skipped":
            print(f"    {r['board']}: {r['tests']}")
    ok = all(r["build"] == "skipped" or (r["build"] == "ok" and r["tests"] == "passed"
                                         and not r["harness"].startswith("error")) for r in results)
    passed = sum(r["tests"] == "passed" for r in results)
    skipped = sum(r["build"] == "skipped" for r in results)
    print(f"boards: {passed} passed, {len(results) - passed - skipped} failed"
          + (f", {skipped} skipped (reason above)" if skipped else ""))
    print(f"JUnit XML: {args.junit_xml}; report: {model_dir / REPORT_NAME}")
    return 0 if ok else 1


def run_parallel(targets, model_dir, jobs, parts_dir, **options):
    """run_board for every target's board, `jobs` at a time (threads: each board's work is in its own QEMU and
    subprocesses); each board's output in LOG_DIR/<board>.log, one line printed as each finishes. Returns the
    summaries in the boards' order."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    print(f"[hwtest] {len(targets)} boards, {jobs} at a time; logs in {LOG_DIR}/", flush=True)

    def one(target):
        board = target.board
        log_path = LOG_DIR / f"{board.name}.log"
        with open(log_path, "w") as log:
            summary = run_board(board, model_dir, junit_path=parts_dir / f"{board.name}.xml", log=log,
                                target=target, **options)
        print(f"[hwtest] {board.name}: build {summary['build']}, tests {summary['tests']}, harness "
              f"{summary['harness']} ({summary['seconds']} s; log {log_path})", flush=True)
        return summary

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, targets))


def write_junit(path: Path, results: list, parts_dir: Path) -> None:
    """One <testsuites> file: each board's suite as pytest wrote it, plus a failing test case for a board whose
    firmware did not build or whose harness could not run (so CI sees every failure, not only test failures)."""
    root = ET.Element("testsuites")
    for r in results:
        part = parts_dir / f"{r['board']}.xml"
        suite = None
        if part.is_file():
            suite = ET.parse(part).getroot().find("testsuite")
            part.unlink()
        if suite is None:
            suite = ET.Element("testsuite", name=r["board"], tests="0", failures="0", errors="0", skipped="0")
        for step in ("build", "harness"):
            if r[step].startswith("error"):
                case = ET.SubElement(suite, "testcase", classname=f"hwtest.{r['board']}", name=step)
                ET.SubElement(case, "failure", message=r[step])
                suite.set("tests", str(int(suite.get("tests", "0")) + 1))
                suite.set("failures", str(int(suite.get("failures", "0")) + 1))
        root.append(suite)
    if parts_dir.is_dir() and not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
