"""Check a board against its model over the serial line: bit-exact vs the twin, fidelity vs float, latency.

Streams the artifact's test split to the board and compares every output with the Python twin of the kernel
(must be bit-exact) and with the float model (accuracy, agreement, max/mean abs error, RMSE, cosine), and
summarises latency per step (cycles on silicon, executed instructions on QEMU, µs at the board's clock).
Writes <artifact>/hw/<board>/results.json, hw_report.md and plots, and <artifact>/hw_report.md for all boards.
A partial run (--limit N) goes to hw/<board>-limit<N>/ and never replaces a full run's results.
On a noisy link, requests are retried, SEQUENCE chunks shrink and timeouts adapt; a board that reboots is
detected (protocol sessions) and the interrupted sequence re-run; what the link cost is in results.json "link".
A run the link stops keeps what it verified in hw/<board>-stopped/; --resume goes on from there.
With --inputs FILE (your own recordings, .csv or .npz as in docs/data-formats.md), the board runs the file's
sequences instead, pre-processed from raw values exactly as the exported C library does: board vs twin
(must be bit-exact: the verdict) vs float model (figures, and accuracy when the file has labels), per sequence
and over every step; results go to <artifact>/inputs/<file stem>/<board>/ (`tinyrnn predict` does the same
on the host without a board).
Exit status: 0 pass, 1 a check failed, 2 the harness could not run (or the link stopped it).
"""
from pathlib import Path

from tinyrnn.host.check import recordings
from tinyrnn.host.check.board_report import summary_lines
from tinyrnn.host.commands.base import at_least
from tinyrnn.host.commands.options import add_baud, add_model, add_port
from tinyrnn.host.check.harness import evaluate, write_outputs
from tinyrnn.host.defaults import DEFAULT_MODEL
from tinyrnn.quantize.errors import LinkFailure, UserError
from tinyrnn.host.report.html import REPORT_NAME
from tinyrnn.quantize.artifact import BoardRun

EXAMPLES = """\
  {prog} --port /dev/pts/3 --model build/basic_motions-gru32
  {prog} --port /dev/ttyACM0 --baud 115200 --limit 5
  {prog} --port socket://127.0.0.1:4444
  {prog} --port /dev/ttyUSB0 --timeout 10 --retries 8 --chunk 8      # a slow board on a noisy line
  {prog} --port /dev/pts/3 --inputs my_recordings.csv                 # your own recordings on the board
  {prog} --port /dev/ttyUSB0 --resume                                 # go on after the link stopped a run
"""


def add_arguments(p):
    add_port(p, required=True)
    add_model(p, default=DEFAULT_MODEL)
    add_baud(p)
    p.add_argument("--inputs", metavar="FILE",
                   help="your recordings (.csv/.npz, docs/data-formats.md) instead of the test split")
    p.add_argument("--limit", type=at_least(1), metavar="N",
                   help="only the first N test sequences (N >= 1); results go to hw/<board>-limit<N>/")
    p.add_argument("--timeout", type=at_least(0, float, exclusive=True), default=3.0, metavar="S",
                   help="longest wait for one reply, in seconds (default %(default)s; the client waits less once "
                        "it has timed the board's replies)")
    p.add_argument("--retries", type=at_least(0), default=None,
                   help="resends of one request before its sequence is re-run (default: by the link's measured "
                        "quality, at least 4; a number fixes it)")
    p.add_argument("--time-limit", type=at_least(0, float, exclusive=True), default=120.0, metavar="S",
                   help="longest one request may take with its retries on a noisy line (default %(default)s)")
    p.add_argument("--reruns", type=at_least(0), default=3,
                   help="re-runs of one sequence (after a board reset or a lost chunk) before the run stops "
                        "(default %(default)s)")
    p.add_argument("--chunk", type=at_least(1), metavar="STEPS",
                   help="largest SEQUENCE chunk in steps (default: the board's limit; it shrinks on a noisy link)")
    p.add_argument("--no-adapt", action="store_true",
                   help="keep timeout and chunk size fixed (for measuring the link itself)")
    p.add_argument("--resume", action="store_true",
                   help="go on from the run the link stopped on this board (hw/<board>-stopped/), taking its "
                        "verified sequences as they are, instead of starting again")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs (faster)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    link = {"timeout": args.timeout, "retries": args.retries, "reruns": args.reruns, "max_chunk": args.chunk,
            "adaptive": not args.no_adapt, "time_limit": args.time_limit}
    results, run_arrays, twin, split = evaluate(args.port, args.model, args.baud, args.limit,
                                                progress=not args.quiet, link_options=link, inputs=args.inputs,
                                                resume=args.resume)
    board_run = BoardRun.of(results)
    # The verdict is printed whatever happens to the files: a board checked for minutes is never lost to a
    # read-only artifact directory (what could not be written is said after the verdict).
    try:
        out, unwritten = write_outputs(results, run_arrays, twin, split, args.model, plots=not args.no_plots), None
    except OSError as e:
        out, unwritten = None, e
    if args.inputs:
        for line in recordings.table_lines(board_run.inputs["per_sequence"], board_run.task, "board"):
            print(line)
    if board_run.resumed_sequences:
        print(f"resumed: {board_run.resumed_sequences} sequences from the stopped run, "
              f"{board_run.sequences - board_run.resumed_sequences} run now")
    for line in summary_lines(board_run):
        print(line)
    if out is not None:
        _print_where(args, out)
    if board_run.stopped:
        kept = f"kept in {BoardRun.path_in(out)}; --resume goes on from there" if out is not None else \
            "NOT kept: the results could not be written"
        raise LinkFailure(f"the run stopped after {board_run.sequences} sequences "
                          f"({'all bit-exact' if board_run.bit_exact.exact else 'NOT bit-exact'}"
                          f", {kept}): {board_run.stopped.removeprefix('error: ')}")
    print("PASS" if board_run.passed else "FAIL")
    if unwritten is not None:
        raise UserError(f"the verdict above stands, but its results could not be written to {args.model} "
                        f"({unwritten.strerror or unwritten}: {unwritten.filename or ''})",
                        "make the artifact directory writable (or run on a writable copy of it) to keep the "
                        "results and reports")
    return 0 if board_run.passed else 1


def _print_where(args, out: Path) -> None:
    results_path = BoardRun.path_in(out)
    if args.inputs:
        print(f"results: {results_path}; report: {out / 'hw_report.md'}")
    else:
        print(f"results: {results_path}; report: {Path(args.model) / REPORT_NAME} "
              f"(all boards: {Path(args.model) / 'hw_report.md'})")
