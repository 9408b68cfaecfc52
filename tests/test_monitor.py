"""`tinyrnn monitor` against live lines on a real pty (os.openpty; the lines a board would print, made here from
the recorded signal and the twin), and the live-line parser: the twin check passes, catches a changed output and
a lost line, a wrong model is refused, broken lines are counted, and --out gives back the board's exact inputs
through `tinyrnn predict`'s pre-processing. The boards' own live lines: tests/test_monitor_boards.py."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import tty

import numpy as np
import pytest

from tinyrnn.host.check import live_inputs, recordings
from tinyrnn.host.formats import live_lines as ll
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit.c_library import Preprocess
from tinyrnn.quantize.emit.recorded_signal import RecordedSignal
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin import preprocess as pp
from tinyrnn.quantize.twin.cells import TwinModel

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("model") / "m", d=5, steps=12, n=6)


def board_lines(model_dir, sequences=4, garble=None):
    """What a board running the live example prints for the recorded signal: start, then per sequence a reset
    and its steps (x as push_float computes it, y from the twin), with a made-up latency."""
    artifact = Artifact.open(model_dir)
    twin = TwinModel.from_artifact_dir(model_dir)
    p = twin.params
    signal = RecordedSignal.from_artifact(artifact, sequences=sequences)
    pre = Preprocess(p, 1)
    x_q = pp.quantize_frames(pp.float_to_raw(signal.frames, pre.float_bits), pre.float_fold)
    lines = ["MicroPython banner the monitor ignores", ll.format_start(p.model_hash, p.input_dim, p.output_dim,
                                                                       "instructions")]
    bounds = list(signal.starts) + [len(x_q)]
    n = 0
    for a, b in zip(bounds, bounds[1:]):
        lines.append(ll.RESET_LINE)
        y = twin.run(x_q[a:b])
        for t in range(a, b):
            lines.append(ll.format_step(n, x_q[t], y[t - a], 7000 + t % 3 * 1000))
            n += 1
    if garble:
        garble(lines)
    return lines, x_q, signal


def monitor(model_dir, lines, *extra, hang_up=False):
    """Run `tinyrnn monitor --plain` on the slave side of a pty; once it listens, write the lines to the master
    (and with hang_up, close the master then: the board goes away)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([sys.executable, "-m", "tinyrnn.host.cli", "monitor", "--port", os.ttyname(slave),
                             "--model", str(model_dir), "--plain", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()

    def feed():
        data = "".join(line + "\r\n" for line in lines).encode()
        for i in range(0, len(data), 512):
            os.write(master, data[i:i + 512])
        if hang_up:
            time.sleep(2)
            os.close(master)

    writer = threading.Thread(target=feed, daemon=True)
    if first.startswith("monitoring "):
        writer.start()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        if writer.is_alive():
            writer.join(5)
        if not hang_up:
            os.close(master)
        os.close(slave)
    return proc.returncode, first + out, err


def test_parser_reads_the_three_lines_and_ignores_others():
    assert ll.parse_line("hello\n") is None
    assert ll.parse_line("@tr reset\r\n") == ll.LiveReset()
    start = ll.parse_line("@tr start model=0123456789abcdef inputs=6 outputs=4 unit=us")
    assert start == ll.LiveStart("0123456789abcdef", 6, 4, "us")
    step = ll.parse_line("@tr step=3 x=1,-2,32767 y=0,32768 lat=12")
    assert step == ll.LiveStep(3, (1, -2, 32767), (0, 32768), 12)
    assert ll.parse_line(ll.format_step(3, [1, -2, 32767], [0, 32768], 12)) == step


@pytest.mark.parametrize("text, said", [
    ("@tr start model=XYZ inputs=6 outputs=4 unit=us", "16 lower-case hex"),
    ("@tr start model=0123456789abcdef inputs=6 outputs=4 unit=ms", "unit 'ms'"),
    ("@tr step=1 x=1,2 y=3", "expected step= x= y= lat="),
    ("@tr step=1 x=1,99999 y=3 lat=1", "outside -32768..32767"),
    ("@tr step=1 x=1,a y=3 lat=1", "'a' is not an integer"),
    ("@tr  step=1 x=1 y=3 lat=1", "unknown live line"),
])
def test_parser_names_what_is_wrong(text, said):
    with pytest.raises(ll.LiveLineError, match=said):
        ll.parse_line(text)


def test_monitor_checks_every_step_against_the_twin_and_saves_a_recording(model, tmp_path):
    lines, x_q, signal = board_lines(model)
    out = tmp_path / "session.csv"
    code, text, err = monitor(model, lines, "--steps", str(len(x_q)), "--out", str(out))
    assert code == 0, err
    assert "board started: model" in text and "(matches --model)" in text
    steps = [s for s in text.splitlines() if s.startswith("step ")]
    assert len(steps) == len(x_q)
    assert steps[-1].endswith(f"bit-exact so far: {len(x_q)} steps")
    assert f"twin check: bit-exact so far: {len(x_q)} steps" in text
    assert "latency p50 8,000 / p99 9,000 instructions" in text
    assert "classes seen (argmax per step):" in text
    # the saved file, read as predict reads it, gives back exactly the board's inputs, sequence by sequence
    rec = recordings.load_recordings(out)
    twin = TwinModel.from_artifact_dir(model)
    prepared = recordings.prepare(rec, twin, Artifact.open(model).manifest)
    bounds = list(signal.starts) + [len(x_q)]
    assert list(prepared.lengths) == [b - a for a, b in zip(bounds, bounds[1:])]
    for row, (a, b) in enumerate(zip(bounds, bounds[1:])):
        np.testing.assert_array_equal(prepared.x_q[row, :b - a], x_q[a:b])
    predicted = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "predict", "--model", str(model), str(out)],
                               capture_output=True, text=True, timeout=120)
    assert predicted.returncode == 0, predicted.stderr
    assert f"{len(signal.starts)} sequences / {len(x_q)} steps" in predicted.stdout


def test_a_changed_output_is_the_first_mismatch(model):
    def change(lines):
        i = next(i for i, s in enumerate(lines) if s.startswith("@tr step=5 "))
        step = ll.parse_line(lines[i])
        lines[i] = ll.format_step(step.step, step.x, (step.y[0] + 1, *step.y[1:]), step.latency)
    lines, x_q, _ = board_lines(model, garble=change)
    code, text, _ = monitor(model, lines, "--steps", str(len(x_q)))
    assert code == 1
    assert "twin check: NOT bit-exact: step 5: output 0 is" in text and "(after 5 bit-exact steps)" in text


def test_a_lost_line_stops_the_check_and_broken_lines_are_counted(model):
    def lose(lines):
        del lines[next(i for i, s in enumerate(lines) if s.startswith("@tr step=7 "))]
        lines.insert(4, "@tr step=oops")
    lines, x_q, _ = board_lines(model, garble=lose)
    code, text, _ = monitor(model, lines, "--steps", str(len(x_q) - 1))
    assert code == 0
    assert "bit-exact for 7 steps, then step 7 was followed by step 8" in text
    assert "1 @tr lines not understood" in text and "not understood (1 so far)" in text


def test_a_board_running_another_model_is_refused(model, tmp_path):
    other = make_artifact(tmp_path / "other", d=5, steps=12, n=6, seed=1)
    lines, _, _ = board_lines(other)
    code, _, err = monitor(model, lines, "--steps", "5")
    assert code == 2
    wanted = TwinModel.from_artifact_dir(model).model_hash
    assert err.startswith("error: the board runs model ") and f"not {wanted}" in err
    assert len(err.strip().splitlines()) == 1


def test_out_never_overwrites(model, tmp_path):
    out = tmp_path / "mine.csv"
    out.write_text("precious\n")
    code, _, err = monitor(model, [], "--out", str(out), "--seconds", "1")
    assert code == 2 and "exists already" in err and out.read_text() == "precious\n"


@pytest.mark.parametrize("downsample", [1, 4])
def test_raw_frames_reproduce_every_kernel_input(model, downsample):
    pre = Preprocess(TwinModel.from_artifact_dir(model).params, downsample)
    rng = np.random.default_rng(downsample)
    x_q = rng.integers(-32768, 32768, size=(300, 5)).astype(np.int16)
    x_q[:3] = [[32767] * 5, [-32768] * 5, [0] * 5]
    frames = live_inputs.raw_frames(x_q, pre)
    assert frames.dtype == np.float32 and frames.shape == (300 * downsample, 5)
    assert live_inputs.reproduces(frames, x_q, pre)
    assert not live_inputs.reproduces(frames, x_q + np.int16(1), pre)


def test_plot_window_follows_the_steps(model, monkeypatch):
    """--plot's window, drawn off screen (matplotlib's Agg backend): one line per class, the recent steps."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from tinyrnn.host.check.live_monitor import open_session
    from tinyrnn.host.check.live_view import PlotWindow, display_available
    session, _, _ = open_session(model)
    window = PlotWindow(session, steps=30)
    lines, x_q, _ = board_lines(model)
    for text in lines:
        line = session.feed(text)
        if line is not None:
            window.show(session, line)
    assert [a.get_label() for a in window.lines] == session.classes
    assert len(window.recent) == 30 and window.recent[-1][0] == len(x_q) - 1
    window.close()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert display_available() == "no display here (DISPLAY and WAYLAND_DISPLAY are unset)"


def test_terminal_view_shows_class_bars_latency_verdict_and_history(model):
    import io
    from tinyrnn.host.check.live_monitor import open_session
    from tinyrnn.host.check.live_view import HISTORY, TerminalView
    session, _, _ = open_session(model)
    screen = io.StringIO()
    view = TerminalView("/dev/pts/9", out=screen)
    lines, x_q, _ = board_lines(model)
    for text in lines:
        line = session.feed(text)
        if line is not None:
            view.show(session, line)
    view.draw(session)
    last = screen.getvalue().split("\x1b[H\x1b[J")[-1].splitlines()
    step = ll.parse_line(lines[-1])
    name = session.class_name(step.y)
    assert last[2] == f"step {step.step}   class: {name}"
    bars = last[3:3 + len(session.classes)]
    assert [b.split("|")[0].strip() for b in bars] == session.classes
    probabilities = session.outputs(step.y)
    assert [b.split("| ")[-1] for b in bars] == [f"{p:.3f}" for p in probabilities]
    best = int(np.argmax(probabilities))
    assert bars[best].count("#") == round(probabilities[best] * 30)
    assert any(s.startswith("latency ") and s.endswith("p99 9,000") for s in last)
    assert f"twin: bit-exact so far: {len(x_q)} steps" in last
    history = last[last.index("history:") + 1:]
    assert len(history) == HISTORY and history[-1] == f"step {step.step:6d}  {name}"


@pytest.mark.emulator
def test_micropython_input_fold_and_lines_match_the_library(model, tmp_path):
    """tinyrnn_live on MicroPython's unix port: InputFold gives push_float's kernel inputs (rounding boundaries,
    clamps, NaN and a block of 3 frames included) and LiveLines prints lines the host's parser reads back."""
    from tinyrnn.host.device.micropython.unix_port import MP_DIR, micropython_available
    from tinyrnn.quantize.emit.micropython import input_fold_module
    from tinyrnn.quantize.sources import MICROPYTHON_DIR
    if not micropython_available():
        pytest.skip("MicroPython's unix port is not installed (make install)")
    params = TwinModel.from_artifact_dir(model).params
    pre = Preprocess(params, 3)
    rng = np.random.default_rng(7)
    frames = (params.norm_mean + params.norm_std * rng.normal(size=(60, 5)) * 3).astype(np.float32)
    half = np.float32(2.0 ** -pre.float_bits * 0.5)
    frames[0] = [half, -half, 3 * half, 1e30, -1e30]
    frames[1] = [np.nan, 0.0, -0.0, 2.0 ** (23 - pre.float_bits), -(2.0 ** (23 - pre.float_bits)) - 1]
    expected = pp.quantize_frames(pp.float_to_raw(frames, pre.float_bits), pre.float_fold)
    (tmp_path / "tinyrnn_input.py").write_text(input_fold_module(params, 3))
    shutil.copy(MICROPYTHON_DIR / "tinyrnn_live.py", tmp_path)
    values = ",".join(repr(float(v)) if np.isfinite(v) else "float('nan')" for v in frames.reshape(-1))
    (tmp_path / "check.py").write_text(f"""
import tinyrnn_input, tinyrnn_live
class Model:
    model_hash = {params.model_hash!r}
    input_dim = 5
    output_dim = 2
frames = [{values}]
fold = tinyrnn_live.InputFold(tinyrnn_input)
live = tinyrnn_live.LiveLines(Model(), "cycles")
live.start()
live.reset()
for i in range(60):
    x = fold.push(frames[5 * i:5 * i + 5])
    if x is not None:
        live.step(x, [-(1 << 31), 32768], 123)
""")
    out = subprocess.run([sys.executable, "-m", "micropython", "check.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(MP_DIR)))
    assert out.returncode == 0, out.stderr
    parsed = [ll.parse_line(line) for line in out.stdout.splitlines()]
    assert parsed[:2] == [ll.LiveStart(params.model_hash, 5, 2, "cycles"), ll.LiveReset()]
    assert [p.step for p in parsed[2:]] == list(range(20))
    np.testing.assert_array_equal(np.array([p.x for p in parsed[2:]]), expected)
    assert parsed[2].y == (-(1 << 31), 32768) and parsed[2].latency == 123


def test_a_board_that_goes_away_still_gets_its_summary(model):
    lines, x_q, _ = board_lines(model)
    code, text, err = monitor(model, lines[:40], hang_up=True)
    assert code == 0, err
    assert "summary (the port failed: read from /dev/pts/" in text
    sent = sum(line.startswith("@tr step=") for line in lines[:40])
    assert f"twin check: bit-exact so far: {sent} steps" in text
