"""Watch a board run the model on its own samples: live outputs, latency and a bit-exact twin check.

The board prints live lines (docs/data-formats.md, "Live lines from a board": `@tr start ...` when it starts,
`@tr step=N x=... y=... lat=...` per model step, `@tr reset` per new sequence); the exported C library's
<name>_live_line and the MicroPython module tinyrnn_live print them. Other lines are ignored. The monitor refuses
a board whose model hash is not --model's, shows the current class (or regression values), the probabilities as
bars, a scrolling history and the latency in the board's own unit (instructions on an emulator, cycles or µs on
silicon), and runs the twin on the board's own inputs: "bit-exact so far: N steps", or the first mismatch.
A terminal gets a view redrawn in place; a pipe or --plain gets one line per step. --plot adds a live matplotlib
window where a display exists. Ctrl-C, --steps or --seconds end it with a summary (steps, classes seen, latency
p50/p99, the twin's verdict). --out saves the session as a recording (raw frames that give back exactly the
board's kernel inputs through the library's pre-processing) that `tinyrnn predict` and `tinyrnn harness --inputs`
take. Exit status 0; 1 when the board and the twin disagreed; 2 for a usage error or a refused model.
"""
import sys

from tinyrnn.host.check import live_monitor
from tinyrnn.host.check.live_view import PlainView, PlotWindow, TerminalView, display_available, summary_lines
from tinyrnn.host.commands.base import at_least
from tinyrnn.host.commands.options import add_baud, add_model, add_out_file, add_port
from tinyrnn.host.defaults import DEFAULT_MODEL

EXAMPLES = """\
  {prog} --port /dev/ttyACM0 --model build/basic_motions-gru32        # until Ctrl-C
  {prog} --port /dev/pts/5 --steps 1000 --plain                      # one line per step, then the summary
  {prog} --port socket://lab:4001 --seconds 60 --out session.csv     # save what the board saw
  tinyrnn predict --model build/basic_motions-gru32 session.csv      # ... and run it on the host
"""


def add_arguments(p):
    add_port(p, required=True)
    add_baud(p)
    add_model(p, default=DEFAULT_MODEL, note="the model the board runs")
    p.add_argument("--steps", type=at_least(1), help="stop after this many model steps")
    p.add_argument("--seconds", type=at_least(0, float, exclusive=True), help="stop after this many seconds")
    p.add_argument("--plot", action="store_true", help="also open a live matplotlib window (needs a display)")
    add_out_file(p, what="save the session as a recording CSV (docs/data-formats.md)")
    p.add_argument("--plain", action="store_true", help="one line per step, even on a terminal")


def run(args) -> int:
    out = live_monitor.check_out_path(args.out)
    session, pre, channels = live_monitor.open_session(args.model)
    plain = args.plain or not sys.stdout.isatty()
    views = [PlainView() if plain else TerminalView(args.port)]
    why_not = display_available() if args.plot else None
    if why_not:
        print(f"--plot: {why_not}; showing the {'plain' if plain else 'terminal'} view only")
    elif args.plot:
        views.append(PlotWindow(session))
    def opened():
        if plain:
            print(f"monitoring {args.port} for model {session.params.model_hash} (Ctrl-C ends with a summary)",
                  flush=True)

    reason, elapsed = live_monitor.run(session, args.port, args.baud,
                                       live_monitor.Ending(args.steps, args.seconds), views, opened)
    if not plain:
        views[0].draw(session)
    for line in summary_lines(session, elapsed, reason):
        print(line)
    if why_not and not plain:           # the terminal view drew over the first notice
        print(f"--plot: {why_not}")
    if out is not None and session.start is not None:
        count = live_monitor.save(session, pre, channels, out)
        print(f"saved {count} sequence(s), {sum(len(s) for s in session.checked_sequences())} steps: {out} "
              f"(tinyrnn predict --model {args.model} {out})")
    elif out is not None:
        print(f"--out {out}: not written (no start line from the board, so no checked steps)")
    if session.steps == 0 and session.start is None:
        print(f"no live lines from {args.port}: is the board running a live example (docs/data-formats.md, "
              "'Live lines from a board')?", file=sys.stderr)
    return 1 if session.verdict.mismatch else 0
