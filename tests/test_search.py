"""`tinyrnn search`: the space, the Pareto front and the budget (no Ray), then small real searches on Ray Tune:
one on this machine, interrupted with Ctrl-C and resumed, whose best model then flashes; one on a Ray cluster of a
head and a worker started here with `ray start`. Trials are tiny (synthetic data, 1-2 epochs) and Ray gets at
most the machine's 2 CPUs."""

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from synthetic import make_sequences, write_npz
from tinyrnn.host import cli
from tinyrnn.host.search import results as R
from tinyrnn.host.search.space import draw_trials, param_count
from tinyrnn.host.search.trial import Budget, judge

pytestmark = pytest.mark.tensorflow

BIN = Path(sys.executable).parent
TINYRNN = str(BIN / "tinyrnn")
# Tiny trials: h=4 is well under the latency budget on the micro:bit's Cortex-M0, h=16 well over it.
BOARD, LATENCY_US = "qemu-microbit", 400
SMALL = ["--board", BOARD, "--units", "4,16", "--layers", "1", "--epochs", "1,2", "--grid-epochs", "1",
         "--calibration-samples", "100", "--max-latency-us", str(LATENCY_US), "--no-firmware"]
# A guard against a hung search, not a speed limit: two trials took over 600 s to resume with two test suites and
# two CPU hogs on the 2 cores (a search trains; on a loaded machine it only gets slower).
HANG_GUARD = 1800

needs_tools = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which(str(BIN / "ray")) is None,
                                 reason="needs arm-none-eabi-gcc and the search extra (ray)")
needs_ray = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or importlib.util.find_spec("ray") is None,
                               reason="needs arm-none-eabi-gcc and the search extra (ray)")


# ------------------------------------------------------------------------------------ no Ray needed


def test_same_seed_same_trials():
    space = dict(cells=["gru", "gru-v1", "lstm"], units=[8, 16, 32], layers=[1, 2, 3], epochs=[5, 10])
    first, again = draw_trials(12, 7, **space), draw_trials(12, 7, **space)
    assert first == again
    assert draw_trials(12, 8, **space) != first
    assert [t.cell for t in first[:6]] == ["gru", "gru-v1", "lstm"] * 2      # every cell kind gets its share
    assert len({t.name for t in first}) == 12


def test_param_count_formulas():
    # GRU reset_after=True 3(dh+h^2+2h), reset_after=False 3(dh+h^2+h), LSTM 4(dh+h^2+h); layers>0 take d=h.
    d, h, k = 6, 32, 4
    assert param_count("gru", d, h, 1, k) == 3 * (d * h + h * h + 2 * h) + h * k + k
    assert param_count("gru-v1", d, h, 1, k) == 3 * (d * h + h * h + h) + h * k + k
    assert param_count("lstm", d, h, 2, k) == 4 * (d * h + h * h + h) + 4 * (h * h + h * h + h) + h * k + k


def _record(i, score, instructions, flash, feasible=True):
    return {"index": i, "name": f"t{i}", "status": R.MEASURED, "score": score, "instructions_per_step": instructions,
            "flash_bytes": flash, "feasible": feasible, "cell": "gru", "ram_bytes": 100}


def test_pareto_front_is_the_non_dominated_set():
    recs = [_record(0, 0.9, 5000, 9000), _record(1, 0.8, 3000, 9500), _record(2, 0.7, 4000, 8000),
            _record(3, 0.95, 9000, 20000, feasible=False), _record(4, 0.9, 6000, 9100),
            {"index": 5, "name": "t5", "status": R.STOPPED, "cell": "gru"}]
    front = R.pareto_front(recs, "instructions_per_step")
    assert [r["index"] for r in front] == [1, 0, 3]               # 2 loses to 1; 4 loses to 0 (same score, dearer)
    assert [r["index"] for r in R.pareto_front(recs, "flash_bytes")] == [2, 0, 3]
    for r in R.measured(recs):                                     # brute force: on the front iff nobody dominates
        assert (r in front) == (not any(R.dominates(q, r, "instructions_per_step") for q in R.measured(recs)))
    assert R.best_feasible(recs)["index"] == 0                     # 3 scores higher but is over the budget


def test_budget_judgement():
    b = Budget("b", "cortex-m0", 16_000_000, max_latency_us=100.0, max_flash=1000, max_ram=50)
    ok = {"latency_us": 99.0, "flash_bytes": 1000, "ram_bytes": 50}
    assert judge(ok, b) == []
    over = judge({"latency_us": 101.0, "flash_bytes": 1001, "ram_bytes": 51}, b)
    assert len(over) == 3 and over[0].startswith("latency")
    assert judge({**ok, "latency_us": 1e9}, Budget("b", "cortex-m0", 16_000_000, None, 1000, 50)) == []


def test_one_line_errors(tmp_path, capsys):
    for argv, text in ((["--dataset", "basic_motions", "--data", "x.npz", "--board", BOARD], "both given"),
                       (["--dataset", "basic_motions"], "--board is missing"),
                       (["--resume", "--out", str(tmp_path)], "holds no search"),
                       (["--board", BOARD, "--cells", "gru,rnn"], "--cells: unknown"),
                       (["--board", BOARD, "--units", "0"], "out of range"),
                       (["--board", BOARD, "--address", "headnode", "--out", str(tmp_path / "s")],
                        "is not HOST:PORT")):
        assert cli.main(["search", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and text in err and len(err.splitlines()) == 1


# ------------------------------------------------------------------------------------ real searches


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the search extra (ray)")
@pytest.mark.parametrize("board,compiler,package", [("qemu-riscv32-virt", "riscv64-unknown-elf-gcc",
                                                     "gcc-riscv64-unknown-elf"),
                                                    (BOARD, "arm-none-eabi-gcc", "gcc-arm-none-eabi")])
def test_a_search_without_the_boards_compiler_names_that_compiler(tmp_path, monkeypatch, capsys, board, compiler,
                                                                  package):
    """Trials are measured on the budget board's core: a RISC-V board needs the RISC-V compiler, not the Arm one
    (the check used to look for arm-none-eabi-gcc whatever the board, and a RISC-V search failed in its trials)."""
    monkeypatch.setenv("PATH", str(tmp_path))                  # no cross compiler at all
    assert cli.main(["search", "--board", board, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {compiler} not found") and f"apt-get install {package}" in err, err
    assert len(err.splitlines()) == 1 and not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    seqs, labels = make_sequences(n=48, length=12, channels=3, classes=3)
    return write_npz(tmp_path_factory.mktemp("search") / "syn.npz", seqs, labels)


def _stop_group(proc, sig=signal.SIGTERM, wait=30):
    """Stop a process we started in its own session, then anything left in its group."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@needs_tools
def test_interrupted_search_resumes_and_its_best_model_flashes(data, tmp_path):
    out = tmp_path / "search"
    # Seed 1 draws h=4 only: every trial fits (h=16 would be ruled out before training, tested below).
    cmd = [TINYRNN, "search", "--data", str(data), *SMALL, "--trials", "3", "--cells", "lstm,gru", "--no-early-stop",
           "--seed", "1", "--out", str(out)]
    # Ctrl-C as a terminal sends it: to the whole process group, once the first trial is finished (minutes on a
    # loaded machine: the limits below are generous, not expected). On one CPU the
    # second trial is then running (it may still finish while Ray Tune saves its state); the third never starts.
    proc = subprocess.Popen([*cmd, "--cpus", "1"], start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        started = time.time()
        while not list((out / "trials").glob("*.json")) and proc.poll() is None and time.time() - started < HANG_GUARD:
            time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        log, _ = proc.communicate(timeout=HANG_GUARD / 4)
    finally:
        _stop_group(proc)
    assert proc.returncode == 130, log
    first = json.loads((out / "trials.json").read_text())
    done = [r for r in first if r["status"] == R.MEASURED]
    assert 1 <= len(done) <= 2 and first[2]["status"] == R.NOT_RUN
    assert all(r["status"] == R.NOT_RUN for r in first if r not in done)
    assert "--resume" in log
    kept = {r["name"]: (out / "trials" / f"{r['name']}.json").stat().st_mtime_ns for r in done}

    # Two trials on one CPU (the timeout: HANG_GUARD).
    res = subprocess.run([TINYRNN, "search", "--resume", "--out", str(out), "--cpus", "1", "--no-firmware"],
                         capture_output=True, text=True, timeout=HANG_GUARD)
    assert res.returncode == 0, res.stdout + res.stderr
    # a line per trial finished now, once each (not for those finished before)
    lines = [line.split()[0] for line in res.stdout.splitlines() if " instr/step " in line]
    assert sorted(lines) == sorted(r["name"] for r in first if r not in done), res.stdout
    records = json.loads((out / "trials.json").read_text())
    assert [r["name"] for r in records] == [t.name for t in draw_trials(3, 1, ["lstm", "gru"], [4, 16], [1], [1, 2])]
    assert {r["name"]: (out / "trials" / f"{r['name']}.json").stat().st_mtime_ns for r in done} == kept

    # What the user gets: every trial measured and judged against the budget, infeasible ones listed.
    assert all(r["status"] == R.MEASURED for r in records)
    for r in records:
        assert r["params_match"], r                                # Keras' count equals the formula
        assert r["latency_us"] == round(r["instructions_per_step"] / 16e6 * 1e6, 1)
        assert r["feasible"] == (r["latency_us"] <= LATENCY_US and r["flash_bytes"] <= 256 * 1024)
        assert r["measure_seconds"] < r["pipeline_seconds"]       # measuring is cheap next to training
    assert all(r["feasible"] for r in records)
    csv_lines = (out / "trials.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and "infeasible_because" in csv_lines[0]
    for plot in ("pareto_instructions.png", "pareto_flash.png"):
        assert (out / "plots" / plot).stat().st_size > 5000
    report = (out / "report.md").read_text()
    assert "GRU vs LSTM at matched budgets" in report and "0 ruled out before training" in report

    best = R.best_feasible(records)
    assert best is not None and best["feasible"]
    assert json.loads((out / "best" / "model.json").read_text())["model_hash"] == best["model_hash"]

    # The best model flashes onto the board it was searched for (emulated) and answers with its hash.
    run_dir = tmp_path / "run"
    env = dict(os.environ, TINYRNN_RUN_DIR=str(run_dir), BUILD_DIR=str(tmp_path / "fw"))
    flashed = subprocess.run([TINYRNN, "flash", "--board", BOARD, "--model", str(out / "best")], env=env,
                             capture_output=True, text=True, timeout=180)
    try:
        assert flashed.returncode == 0, flashed.stdout + flashed.stderr
        assert best["model_hash"] in flashed.stdout
    finally:
        subprocess.run([TINYRNN, "flash", "--stop", BOARD], env=env, capture_output=True, timeout=60)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_tools
def test_search_on_a_ray_cluster(data, tmp_path):
    """A head and a worker started here with `ray start` (one CPU each), the search sent with --address."""
    port = _free_port()
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")          # Ray's socket paths must stay short
    # The cluster's own token (Ray's default token authentication), for head, worker and the search alike.
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    nodes = []
    try:
        nodes.append(subprocess.Popen([str(BIN / "ray"), "start", "--head", f"--port={port}",
                                       "--include-dashboard=false", f"--temp-dir={ray_tmp}", *common], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        nodes.append(subprocess.Popen([str(BIN / "ray"), "start", f"--address=127.0.0.1:{port}", *common], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out = tmp_path / "cluster"
        res = subprocess.run([TINYRNN, "search", "--data", str(data), *SMALL, "--trials", "2", "--units", "4",
                              "--epochs", "1", "--cells", "gru-v1", "--address", f"127.0.0.1:{port}",
                              "--out", str(out)],
                             env=env, capture_output=True, text=True, timeout=HANG_GUARD)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Ray cluster at 127.0.0.1" in res.stdout
        records = json.loads((out / "trials.json").read_text())
        # ASHA may stop the second trial after its first epoch if it trails the first one.
        assert records[0]["status"] == R.MEASURED and records[1]["status"] in (R.MEASURED, R.STOPPED)
        assert all(r["params_match"] for r in R.measured(records))
        assert (out / "best" / "model.json").is_file()
    finally:
        for node in reversed(nodes):                               # the worker first, then the head
            _stop_group(node)
        shutil.rmtree(ray_tmp, ignore_errors=True)


@needs_ray
def test_a_search_that_cannot_reach_its_cluster_leaves_nothing(data, tmp_path):
    out = tmp_path / "search"
    tiny = ["--data", str(data), *SMALL, "--trials", "1", "--units", "4", "--epochs", "1", "--cells", "gru-v1"]
    res = subprocess.run([TINYRNN, "search", *tiny, "--address", f"127.0.0.1:{_free_port()}", "--out", str(out)],
                         capture_output=True, text=True, timeout=90)      # nothing listens on that port
    assert res.returncode == 2, res.stdout + res.stderr
    err = res.stderr.strip()
    assert err.startswith("error: cannot reach the Ray cluster") and len(err.splitlines()) == 1, err
    assert not out.exists()


@needs_ray
def test_a_half_made_out_resumes_and_trials_that_cannot_fit_are_ruled_out_before_training(data, tmp_path):
    """h=16 needs ~1.7x the latency budget on the micro:bit's M0: its two trials are never trained.

    The search starts from what a search stopped before Ray Tune saved any state leaves (an older tinyrnn left it
    after a failed connection): its options and an empty trials/. --resume completes it (one search serves both
    checks: each costs minutes on a loaded machine)."""
    from tinyrnn.host.commands import search
    from tinyrnn.host.commands.base import make_parser

    out = tmp_path / "search"
    argv = ["--data", str(data), *SMALL, "--trials", "3", "--cells", "gru-v1", "--epochs", "1", "--cpus", "1",
            "--out", str(out)]
    (out / "trials").mkdir(parents=True)
    options = search._options(make_parser(search, "tinyrnn search").parse_args(argv))
    (out / search.SETTINGS).write_text(json.dumps(options))
    res = subprocess.run([TINYRNN, "search", "--resume", "--out", str(out), "--cpus", "1", "--no-firmware"],
                         capture_output=True, text=True, timeout=HANG_GUARD)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert "holds no Ray Tune state" in res.stdout
    records = json.loads((out / "trials.json").read_text())
    assert [(r["units"], r["status"]) for r in records] == [(16, R.RULED_OUT), (16, R.RULED_OUT), (4, R.MEASURED)]
    for r in records[:2]:
        assert not (out / "trials" / r["name"]).exists()               # never trained
        assert r["infeasible_because"].startswith("latency") and r["estimated_latency_us"] > LATENCY_US * 1.05
        assert f"{r['name']:22s} ruled out before training: latency" in res.stdout
    # The estimate is the measurement of the same shape: the trained h=4 model lands where its stand-in did.
    from tinyrnn.host.search.estimate import estimate
    from tinyrnn.host.search.space import Trial
    from tinyrnn.host.device.boards import load_board
    board = load_board(BOARD)
    trained = records[2]
    guess = estimate(Trial(**{k: trained[k] for k in ("index", "cell", "units", "layers", "lr", "epochs")}), 3, 3,
                     Budget(BOARD, board.core, board.clock_hz, LATENCY_US, board.flash_size, board.ram_size))
    assert abs(guess["instructions_per_step"] / trained["instructions_per_step"] - 1) < 0.02
    assert (guess["flash_bytes"], guess["ram_bytes"]) == (trained["flash_bytes"], trained["ram_bytes"])
    # One kernel+model flash: the trial's own artifact (report.html, metrics.json) carries the search's figure for
    # the budget board's core, and says where it came from.
    kept = json.loads((out / "trials" / trained["name"] / "metrics.json").read_text())
    assert kept["kernel"]["flash_bytes"] == trained["flash_bytes"] and kept["kernel"]["flash_core"] == board.core
    assert kept["search"]["board"] == BOARD and kept["search"]["trial"] == trained["name"]
    page = (out / "trials" / trained["name"] / "report.html").read_text()
    assert "From a search" in page and f"kernel code + activation tables (flash, {board.core})" in page
    assert json.loads((out / "best" / "metrics.json").read_text())["search"]["trial"] == trained["name"]
    report = (out / "report.md").read_text()
    assert "2 ruled out before training" in report and "not trained: its shape's estimate is over budget" in report


@pytest.mark.fast
def test_a_cell_kind_with_no_measured_trial_is_not_measured_not_none_fits():
    def trial(cell, status, instructions=1000):
        return {"cell": cell, "status": status, "instructions_per_step": instructions, "flash_bytes": 10,
                "ram_bytes": 10, "score": 0.5}
    records = [trial("gru", R.MEASURED), trial("gru", R.MEASURED, 2000), trial("lstm", R.STOPPED)]
    rows = R.matched_table(records, {"max_flash": 100, "max_ram": 100})
    assert {(row["cell"], row["measured"]) for row in rows} == {("gru", True), ("lstm", False)}
    assert all(row["trial"] is None for row in rows if row["cell"] == "lstm")


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_one_kernel_model_flash_figure_for_search_export_and_report(tmp_path):
    """The search's measurement and export's metrics give the same kernel+model flash for the same core; the
    whole firmware is a different, differently named figure."""
    from tinyrnn.host.device import fwsize
    from tinyrnn.host.device.boards import load_board
    from tinyrnn.host.search.trial import measure_on_core
    from tinyrnn.quantize.emit.export import flash_figures
    from tinyrnn.quantize.toolchain.cases import make_model

    art, twin = make_model(tmp_path, "gru32", cell="gru", d=6, units=32, k=4)
    for name in ("qemu-microbit", "qemu-mps2-an386"):                 # Cortex-M0 and Cortex-M4
        board = load_board(name)
        budget = Budget(name, board.core, board.clock_hz, None, board.flash_size, board.ram_size)
        searched = measure_on_core(art, budget)["flash_bytes"]
        exported = flash_figures(twin.params, art / "c", board.core)
        assert exported["flash_bytes"] == searched and exported["flash_core"] == board.core
    line = fwsize.report_line(board, "m", {"flash_bytes": 1, "ram_bytes": 1, "data_bytes": 0, "bss_bytes": 0,
                                           "stack_bytes": 0})
    assert "firmware flash 1 of" in line


@pytest.mark.fast
def test_pareto_plots_labels_do_not_overlap_and_the_legend_hides_no_point():
    import matplotlib.pyplot as plt
    import numpy as np

    rng = np.random.default_rng(0)
    records = []
    for i in range(24):                         # costs packed inside one decade: where minor labels collided
        instructions = int(rng.uniform(3000, 28000))
        records.append({**_record(i, float(rng.uniform(0.2, 0.95)), instructions, 9000 + instructions // 5,
                                  feasible=instructions < 20000), "cell": ["gru", "gru-v1", "lstm"][i % 3],
                        "metric": "accuracy"})
    records[5].update(score=0.2, instructions_per_step=27000, flash_bytes=14400)    # bottom right: the old legend
    budget = {"board": BOARD, "core": "cortex-m0", "clock_hz": 16_000_000, "max_latency_us": 1250.0,
              "max_flash": 13000, "max_ram": 8000}
    for cost in R.COSTS:
        fig = R.pareto_figure(records, budget, cost)
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            for axis in (ax.xaxis, ax.yaxis):
                boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels(which="both")
                         if t.get_visible() and t.get_text()]
                assert len(boxes) >= 2, (cost, [t.get_text() for t in axis.get_ticklabels(which="both")])
                for i, a in enumerate(boxes):
                    assert not any(a.overlaps(b) for b in boxes[i + 1:]), (cost, axis)
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        assert legend.x0 >= ax.get_window_extent(renderer).x1                 # beside the axes, not on them
        assert legend.x1 <= fig.bbox.x1                                       # and inside the picture
        plt.close(fig)
