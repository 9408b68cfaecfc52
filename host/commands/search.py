"""Search GRU and LSTM models and their sizes for a board: trained, exported and measured against its budget.

Each trial trains a configuration (cell: GRU with reset_after true or false, LSTM; units; layers; learning rate;
epochs), fine-tunes it onto the kernel's int8 grid, exports the fixed-point kernel and measures it on the
board's core: executed instructions per step (the kernel built with arm-none-eabi-gcc -O2, run in unicorn;
instructions, not cycles, shown also as µs at the board's clock at one instruction per cycle), flash and RAM.
Before any training, each trial's shape is measured
the same way on a stand-in with random weights (the kernel's cost depends on the shape, not the weights): a trial
that cannot fit the budget is ruled out, never trained, and listed with the reason. Measured trials over the
budget are kept and reported as infeasible. ASHA stops trials that train poorly early.

Runs on Ray Tune (pip install 'tinyrnn[search]'): by default Ray starts in this process on all cores of this
machine; --address runs the trials on a Ray cluster instead. Ctrl-C stops the search keeping its finished
trials; --resume --out DIR continues it. The same --seed gives the same trials.

Writes into --out: trials.csv and trials.json (every trial), plots/pareto_instructions.png and
plots/pareto_flash.png, report.md (the best model, the GRU-vs-LSTM table at matched budgets, every trial),
trials/<trial>/ (each trial's artifact directory) and best/ (the best feasible one, ready for tinyrnn flash).

On a cluster: every node needs the same tinyrnn install (pip install 'tinyrnn[search,train,bench]' and
arm-none-eabi-gcc) and must see --out at the same path (a shared filesystem, e.g. NFS): trials write their
artifact directories and Ray Tune its state there.
    head:     ray start --head --port=6379
    workers:  ray start --address=HEAD_IP:6379
    search:   tinyrnn search ... --address HEAD_IP:6379
    stop:     ray stop (on every node)
"""
import json
import os
import shutil
import sys
import time
from pathlib import Path

from tinyrnn.host.commands.options import add_board, add_replaceable_out
from tinyrnn.host.device.boards import board_names, load_board
from tinyrnn.host.device.firmware import build as build_firmware
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.host.search import results as R
from tinyrnn.host.search.space import CELLS, DEFAULT_LAYERS, DEFAULT_UNITS, Trial, draw_trials, parse_space
from tinyrnn.host.search.trial import CORE_TARGETS, Budget, Job
from tinyrnn.host.training.data import BUNDLED
from tinyrnn.host.training.pipeline import DEFAULT_DATASET, GRID_EPOCHS

EXAMPLES = """\
  {prog} --dataset basic_motions --board qemu-microbit --max-latency-us 2000
  {prog} --data mine.npz --board nucleo-f446re --max-flash 65536 --max-ram 8192 --trials 48
  {prog} --dataset basic_motions --board qemu-microbit --cells gru,lstm --units 8,16,32 --layers 1
  {prog} --resume --out build/search-basic_motions-qemu-microbit      # after Ctrl-C
  {prog} --dataset basic_motions --board qemu-mps2-an386 --address 10.0.0.1:6379   # on a Ray cluster
"""
SETTINGS = "search.json"          # the options of a search, for --resume


def add_arguments(p):
    d = p.add_argument_group("data")
    d.add_argument("--dataset", metavar="NAME",
                   help=f"bundled data set (default {DEFAULT_DATASET}): " + ", ".join(BUNDLED))
    d.add_argument("--data", metavar="FILE", help="your own labelled sequences, .csv or .npz (tinyrnn train --help)")
    d.add_argument("--test-fraction", type=float, metavar="F", default=0.25,
                   help="share held out for testing when --data has no test split (default 0.25)")
    d.add_argument("--downsample", type=int, metavar="K", help="average blocks of K frames")
    d.add_argument("--max-len", type=int, metavar="N", help="keep only the first N steps of each sequence")

    b = p.add_argument_group("board and budget")
    add_board(b, what="board whose core, clock and memory set the budget")
    b.add_argument("--max-latency-us", type=float, metavar="T",
                   help="µs per step at the board's clock, from the instruction count (default: no limit)")
    b.add_argument("--max-flash", type=int, metavar="B", help="model flash bytes (default: the board's flash)")
    b.add_argument("--max-ram", type=int, metavar="B", help="model RAM bytes (default: the board's RAM less its stack)")

    s = p.add_argument_group("search space and engine")
    s.add_argument("--trials", type=int, metavar="N", default=24, help="trials to run (default 24)")
    s.add_argument("--time-budget", type=float, metavar="S", help="stop after S seconds (unfinished trials: --resume)")
    s.add_argument("--cells", default=",".join(CELLS), help=f"cell kinds, from {','.join(CELLS)} (default all; "
                   "gru = reset_after true, gru-v1 = false)")
    s.add_argument("--units", default=",".join(map(str, DEFAULT_UNITS)), help="hidden units to draw from")
    s.add_argument("--layers", default=",".join(map(str, DEFAULT_LAYERS)), help="stacked layers to draw from")
    s.add_argument("--epochs", help="training epochs to draw from (default: the data set's, and half of it)")
    s.add_argument("--grid-epochs", type=int, default=GRID_EPOCHS, metavar="N",
                   help=f"int8-grid fine-tuning epochs per trial (default {GRID_EPOCHS})")
    s.add_argument("--batch-size", type=int, metavar="N", help="mini-batch size (default: the data set's)")
    s.add_argument("--calibration-samples", type=int, default=1000, metavar="N",
                   help="int8 TFLite calibration samples per trial (default 1000)")
    s.add_argument("--no-early-stop", action="store_true", help="run every trial to its last epoch (no ASHA)")
    s.add_argument("--seed", type=int, default=0, help="seed for the drawn trials and the training (default 0)")
    s.add_argument("--address", metavar="HOST:PORT", help="run on this Ray cluster (default: Ray in this process)")
    s.add_argument("--cpus", type=int, metavar="N", help="CPUs Ray may use here (default all; not with --address)")
    s.add_argument("--cpus-per-trial", type=int, default=1, metavar="N", help="CPUs each trial holds (default 1)")

    o = p.add_argument_group("output")
    add_replaceable_out(o, what="search directory", default_note="build/search-<data>-<board>/")
    o.add_argument("--resume", action="store_true", help="continue the search in --out (its own options apply)")
    o.add_argument("--no-firmware", action="store_true", help="skip building the best model's firmware")
    o.add_argument("--quiet", action="store_true", help="no per-trial lines or progress bar")


def _options(args) -> dict:
    if args.dataset and args.data:
        raise UserError("--dataset and --data both given", "use --dataset for a bundled set or --data for a file")
    dataset = args.dataset or (None if args.data else DEFAULT_DATASET)
    if dataset and dataset not in BUNDLED:
        raise UserError(f"unknown data set '{dataset}'", f"use one of: {', '.join(BUNDLED)}")
    if not args.board:
        raise UserError("--board is missing", f"name the board to search for: {', '.join(board_names())}")
    for flag, value, low in (("--trials", args.trials, 1), ("--grid-epochs", args.grid_epochs, 0),
                             ("--calibration-samples", args.calibration_samples, 1), ("--seed", args.seed, 0),
                             ("--cpus-per-trial", args.cpus_per_trial, 1), ("--cpus", args.cpus, 1),
                             ("--batch-size", args.batch_size, 1), ("--max-flash", args.max_flash, 1),
                             ("--max-ram", args.max_ram, 1), ("--downsample", args.downsample, 1),
                             ("--max-len", args.max_len, 1)):
        if value is not None and value < low:
            raise UserError(f"{flag} {value} is too small", f"use a value of at least {low}")
    for flag, value in (("--max-latency-us", args.max_latency_us), ("--time-budget", args.time_budget)):
        if value is not None and not value > 0:
            raise UserError(f"{flag} {value} is not positive", "give a positive number")
    if args.address and args.cpus:
        raise UserError("--cpus is for Ray on this machine", "drop it with --address (the cluster has its own)")
    from tinyrnn.host.training.pipeline import training_defaults
    defaults = training_defaults(dataset, args.data) if (dataset or args.data) else {}
    e = defaults.get("epochs", 40)
    space = parse_space(args.cells, args.units, args.layers, args.epochs or f"{max(1, e // 2)},{e}")
    lr = defaults.get("learning_rate", 0.01)
    return {"dataset": dataset, "data": str(Path(args.data).resolve()) if args.data else None,
            "test_fraction": args.test_fraction, "downsample": args.downsample, "max_len": args.max_len,
            "board": args.board, "max_latency_us": args.max_latency_us, "max_flash": args.max_flash,
            "max_ram": args.max_ram, "trials": args.trials, "time_budget": args.time_budget, **space,
            "lr_range": [round(lr / 3, 6), round(lr * 3, 6)], "grid_epochs": args.grid_epochs,
            "batch_size": args.batch_size or defaults.get("batch_size", 16),
            "calibration_samples": args.calibration_samples, "seed": args.seed,
            "early_stop": not args.no_early_stop}


def _line(trial: dict, result: dict) -> str:
    """One line per finished trial."""
    t = Trial(**trial)
    head = f"{t.name:22s} lr {t.lr:<8g} {t.epochs:3d} ep"
    if result.get("status") == "measured":
        verdict = "feasible" if result["feasible"] else f"INFEASIBLE ({result['infeasible_because']})"
        return (f"{head}  {result['metric']} {result['kernel_' + result['metric']]:.3f}  "
                f"{result['instructions_per_step']:>8,} instr/step ({result['latency_us']:,.0f} µs)  "
                f"kernel+model flash {result['flash_bytes']:>7,} B  RAM {result['ram_bytes']:>6,} B  "
                f"train {result['train_seconds']:.0f} s, measure {result['measure_seconds']:.1f} s  {verdict}")
    if result.get("status") == "error":
        return f"{head}  failed: {result.get('error', '')}"
    if "epoch" in result:
        return f"{head}  stopped early by ASHA after epoch {result['epoch']} (validation {result['epoch_score']:.3f})"
    return f"{head}  not finished"


def _settings(args) -> tuple[dict, Path]:
    """The search's options and its directory: read back from --out with --resume, else from the command line."""
    if args.resume:
        if not args.out:
            raise UserError("--resume needs --out", "give the search directory to continue")
        out = Path(args.out)
        if not (out / SETTINGS).is_file():
            raise UserError(f"{out} holds no search ({SETTINGS} missing)", "start one without --resume")
        options = json.loads((out / SETTINGS).read_text())
    else:
        options = _options(args)
        name = Path(options["data"]).stem if options["data"] else options["dataset"]
        out = Path(args.out) if args.out else Path("build") / f"search-{name}-{options['board']}"
        if out.exists() and not args.force:
            raise UserError(f"{out} already exists", "continue it with --resume, replace it with --force, "
                            "or choose another --out")
    return options, out


def _require_tools(engine, args, options, core: str) -> None:
    """Ray, the training extra, the board core's cross compiler and unicorn, each refused in one line; the
    cluster at once."""
    from tinyrnn.host.training.pipeline import require_train_extra
    from tinyrnn.quantize import targets
    from tinyrnn.quantize.toolchain.build import toolchain_available

    engine.require_ray()
    if args.address:
        engine.check_address(args.address)       # at once, before the data loads
    require_train_extra(bundled=options["data"] is None)
    bench = targets.CORES[core].bench
    if bench is None:
        raise TinyRNNError(f"the board's core {core} has no instruction-counting bench, so trials cannot be "
                           "measured on it", "search for a board whose core the bench runs (tinyrnn boards list)")
    if not toolchain_available(bench):
        compiler = targets.bench_tool(bench, "gcc")
        raise TinyRNNError(f"{compiler} not found: trials are measured on the board's core ({core})",
                           f"apt-get install {targets.TOOLCHAIN_PACKAGE[targets.CORES[core].family]}")
    try:
        import unicorn  # noqa: F401
    except ImportError:
        raise TinyRNNError("trials are counted in unicorn, which is not installed",
                           "pip install 'tinyrnn[bench]'") from None


def run(args) -> int:
    started = time.perf_counter()
    options, out = _settings(args)
    board = load_board(options["board"])
    if board.core not in CORE_TARGETS:
        raise UserError(f"{board.name}: no instruction-count target for {board.core}",
                        f"use a board with one of {', '.join(CORE_TARGETS)}")

    from tinyrnn.host.search import engine
    from tinyrnn.host.training import data as D
    from tinyrnn.host.training.pipeline import check_kernel_bounds, prepare_inputs
    _require_tools(engine, args, options, board.core)

    budget = Budget(board=board.name, core=board.core, clock_hz=board.clock_hz,
                    max_latency_us=options["max_latency_us"],
                    max_flash=options["max_flash"] or board.flash_size,
                    max_ram=options["max_ram"] or board.ram_size - board.stack_size)
    trials = draw_trials(options["trials"], options["seed"], options["cells"], options["units"],
                         options["layers"], options["epochs"], options["lr_range"])
    say = (lambda *a: None) if args.quiet else (lambda msg: print(msg, flush=True))
    say(f"loading {options['data'] or options['dataset']} ...")
    ds = D.load_dataset(options["dataset"], options["data"], test_fraction=options["test_fraction"],
                        seed=options["seed"], downsample_factor=options["downsample"], max_len=options["max_len"])
    check_kernel_bounds(ds)
    defaults_downsample = vars(BUNDLED[options["dataset"]]).get("downsample", 1) if options["dataset"] else 1
    # Before any training: trials whose shape cannot fit the budget (a stand-in measured on the board's core).
    from tinyrnn.host.search.estimate import rule_out
    ruled = rule_out(trials, ds.input_dim, ds.output_dim, budget, quiet=args.quiet)
    for t in trials:
        if t.index in ruled:
            say(f"{t.name:22s} ruled out before training: {'; '.join(ruled[t.index]['because'])} "
                f"(estimated from a stand-in of its shape on {board.core})")
    runnable = [t for t in trials if t.index not in ruled]
    # Ray first, --out after: a search that cannot start (no cluster at --address) leaves nothing behind.
    if runnable:
        engine.start_ray(args.address, args.cpus, args.cpus_per_trial)
    if not args.resume:
        if out.exists():
            shutil.rmtree(out)
        (out / "trials").mkdir(parents=True)
        (out / SETTINGS).write_text(json.dumps(options, indent=1) + "\n")
    elif runnable and not engine.has_state(out):
        say(f"{out} holds no Ray Tune state (the search stopped before its trials started): starting them now")
        (out / "trials").mkdir(exist_ok=True)
    job = Job(inputs=prepare_inputs(ds), batch_size=options["batch_size"], grid_epochs=options["grid_epochs"],
              calibration_samples=options["calibration_samples"], seed=options["seed"],
              downsample=options["downsample"] or defaults_downsample, budget=budget,
              trials_dir=str((out / "trials").resolve()))
    where = (f"the Ray cluster at {args.address}" if args.address
             else f"this machine ({args.cpus or os.cpu_count()} CPUs)")
    say(f"{'resuming' if args.resume else 'searching'} {len(runnable)} trials ({len(ruled)} ruled out) on {where} "
        f"for {board.name} ({board.core} at {board.clock_hz / 1e6:g} MHz): {out}/")
    finished = set()
    if args.resume and (out / "trials.json").is_file():       # trials the last run finished: no second line
        finished = {r["index"] for r in json.loads((out / "trials.json").read_text())
                    if r["status"] in (R.MEASURED, R.STOPPED, R.ERROR)}
    interrupted = False
    try:
        outcome = None if not runnable else engine.run(runnable, job, out, address=args.address, cpus=args.cpus,
                             cpus_per_trial=args.cpus_per_trial, time_budget=options["time_budget"],
                             early_stop=options["early_stop"],
                             resume=args.resume, done_before=finished, quiet=args.quiet, format_line=_line)
    except KeyboardInterrupt:           # a second Ctrl-C: Ray skipped saving, the finished trials are on disk
        outcome, interrupted = None, True
    records = R.collect(trials, out / "trials", outcome, ruled)
    R.write_trials(records, out)
    budget_dict = vars(budget) | {"core": board.core}
    R.plot_pareto(records, budget_dict, out)
    best = R.best_feasible(records)
    best_dir = R.copy_best(best, out)
    notes = [f"Search took {time.perf_counter() - started:,.0f} s on {where}."]
    report = R.report(records, budget_dict, options, out, best, notes)

    n_left = sum(r["status"] == R.NOT_RUN for r in records)
    say(f"\n{sum(r['status'] == R.MEASURED for r in records)} measured "
        f"({sum(1 for r in R.measured(records) if r['feasible'])} feasible), "
        f"{len(ruled)} ruled out before training, {sum(r['status'] == R.STOPPED for r in records)} stopped early, "
        f"{sum(r['status'] == R.ERROR for r in records)} failed, {n_left} not run; report: {report}")
    if best_dir is not None:
        say(f"best feasible: {best['name']} -> {best_dir}/")
        if not args.no_firmware:
            build_firmware(board, best_dir)     # prints the whole image's flash and RAM against the board
    else:
        say("no trial fits the budget: see the report for what a larger one buys")
    if n_left or interrupted:
        # Trials left without a time budget means the search was stopped (Ctrl-C): say so in the exit code too.
        interrupted = interrupted or not options["time_budget"]
        print(f"{'interrupted' if interrupted else 'out of time'}: {n_left} trials not run; continue with "
              f"tinyrnn search --resume --out {out}", file=sys.stderr)
        return 130 if interrupted else 0
    return 0
