"""What `tinyrnn monitor` shows: a terminal view redrawn in place (a tty), plain lines (anything else, or
--plain: what tests capture), an optional live matplotlib window, and the summary at the end.

The views only read a Session (host/check/live_session.py); they never decide anything about the board.
"""
from __future__ import annotations

import os
import sys
import time
from collections import deque

import numpy as np

from tinyrnn.host.check.live_session import Session
from tinyrnn.host.formats.live_lines import UNIT_NAMES, LiveLineError, LiveReset, LiveStart, LiveStep

BAR_WIDTH = 30
HISTORY = 12
REDRAW_S = 0.1


def unit_name(session: Session) -> str:
    return UNIT_NAMES[session.start.unit] if session.start else "(unit unknown: no start line yet)"


def output_text(session: Session, y) -> str:
    """`badminton 0.010 running 0.970 ...` (a classifier) or `out0 1.234 ...` (normalised regression values)."""
    values = session.outputs(y)
    names = session.classes or [f"out{k}" for k in range(len(values))]
    return " ".join(f"{n} {v:.3f}" for n, v in zip(names, values))


def describe_event(session: Session, line) -> str | None:
    """One line for the events both views print (start, restart, broken lines)."""
    if isinstance(line, LiveStart):
        again = " (the board restarted)" if session.restarts else ""
        return (f"board started{again}: model {line.model_hash} (matches --model), {line.inputs} inputs, "
                f"{line.outputs} outputs, latency in {UNIT_NAMES[line.unit]}")
    if isinstance(line, LiveLineError):
        return f"not understood ({session.bad_lines} so far): {line}"
    return None


class PlainView:
    """One line per step and per event, flushed: readable in a log, a pipe or a test."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self._warned_unchecked = False

    def show(self, session: Session, line) -> None:
        text = describe_event(session, line)
        if isinstance(line, LiveReset):
            text = "reset: the board zeroed the state (a new sequence)"
        elif isinstance(line, LiveStep):
            text = self._step(session, line)
        if text:
            print(text, file=self.out, flush=True)

    def _step(self, session: Session, line: LiveStep) -> str:
        prefix = ""
        if session.start is None and not self._warned_unchecked:
            self._warned_unchecked = True
            prefix = ("steps before the board's start line: its model is unknown, they are shown but not checked "
                      "(restart the board while the monitor listens)\n")
        name = session.class_name(line.y)
        twin = session.verdict.line() if session.start else "unchecked"
        return (f"{prefix}step {line.step}{' ' + name if name else ''} | {output_text(session, line.y)} | "
                f"lat {line.latency} {unit_name(session)} | {twin}")

    def close(self) -> None:
        pass


class TerminalView:
    """A block redrawn in place at most every REDRAW_S: current class, bars, latency, twin verdict, history."""

    def __init__(self, port: str, out=None):
        self.out = out or sys.stdout
        self.port = port
        self.history: deque[str] = deque(maxlen=HISTORY)
        self.events: deque[str] = deque(maxlen=3)
        self._drawn = 0.0

    def show(self, session: Session, line) -> None:
        text = describe_event(session, line)
        if text:
            self.events.append(text)
        if isinstance(line, LiveReset):
            self.history.append("-- reset --")
        elif isinstance(line, LiveStep):
            name = session.class_name(line.y)
            self.history.append(f"step {line.step:6d}  {name or output_text(session, line.y)}")
        now = time.monotonic()
        if now - self._drawn >= REDRAW_S:
            self._drawn = now
            self.draw(session)

    def draw(self, session: Session) -> None:
        lines = [f"tinyrnn monitor  {self.port}  model {session.params.model_hash}  (Ctrl-C ends with a summary)", ""]
        last = session.last
        if last is None:
            lines.append("waiting for live lines from the board ...")
        else:
            name = session.class_name(last.y)
            lines.append(f"step {last.step}   " + (f"class: {name}" if name else "regression outputs"))
            values = session.outputs(last.y)
            names = session.classes or [f"out{k}" for k in range(len(values))]
            width = max(len(n) for n in names)
            for n, v in zip(names, values):
                if session.classes:
                    filled = int(round(float(np.clip(v, 0, 1)) * BAR_WIDTH))
                    lines.append(f"  {n:>{width}} |{'#' * filled}{' ' * (BAR_WIDTH - filled)}| {v:.3f}")
                else:
                    lines.append(f"  {n:>{width}} {v:+.4f} (normalised)")
            p = session.latency_percentiles()
            lines.append(f"latency {last.latency:,} {unit_name(session)}" +
                         (f"   p50 {p[0]:,.0f}  p99 {p[1]:,.0f}" if p else ""))
        twin = session.verdict.line() if session.start else f"unchecked: no start line yet ({session.unchecked} steps)"
        lines += [f"twin: {twin}", "", *self.events, "history:", *self.history]
        self.out.write("\x1b[H\x1b[J" + "\n".join(lines) + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


def display_available() -> str | None:
    """None when a matplotlib window can open here, else why not (one line)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display here (DISPLAY and WAYLAND_DISPLAY are unset)"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    return None


class PlotWindow:
    """A live matplotlib window: the outputs of the last steps as lines, redrawn every half second."""

    def __init__(self, session: Session, steps: int = 200):
        import matplotlib.pyplot as plt
        self.plt = plt
        plt.ion()
        self.figure, self.axes = plt.subplots(figsize=(8, 4))
        names = session.classes or [f"out{k}" for k in range(session.params.output_dim)]
        self.lines = [self.axes.plot([], [], label=n)[0] for n in names]
        self.axes.set_xlabel("step")
        self.axes.set_ylabel("probability" if session.classes else "normalised output")
        self.axes.legend(loc="upper left")
        self.recent: deque[tuple[int, np.ndarray]] = deque(maxlen=steps)
        self._drawn = 0.0

    def show(self, session: Session, line) -> None:
        if isinstance(line, LiveStep):
            self.recent.append((line.step, session.outputs(line.y)))
        now = time.monotonic()
        if self.recent and now - self._drawn >= 0.5:
            self._drawn = now
            steps = [s for s, _ in self.recent]
            values = np.array([v for _, v in self.recent])
            for k, artist in enumerate(self.lines):
                artist.set_data(steps, values[:, k])
            self.axes.relim()
            self.axes.autoscale_view()
            self.figure.canvas.draw_idle()
            self.plt.pause(0.001)

    def close(self) -> None:
        self.plt.close(self.figure)


def summary_lines(session: Session, elapsed: float, reason: str) -> list[str]:
    p = session.latency_percentiles()
    unit = unit_name(session)
    seen = ", ".join(f"{name} {count}" for name, count in sorted(session.class_counts.items(), key=lambda kv: -kv[1]))
    lines = [f"summary ({reason}, {elapsed:.1f} s): {session.steps} steps, {session.resets} resets"
             + (f", {session.restarts} board restarts" if session.restarts else ""),
             f"  classes seen (argmax per step): {seen or 'none'}" if session.classes else
             f"  regression outputs: {session.steps} steps",
             f"  latency p50 {p[0]:,.0f} / p99 {p[1]:,.0f} {unit}" if p else "  latency: no steps",
             f"  twin check: {session.verdict.line()}" if session.start else
             "  twin check: none (no start line from the board: its model is unknown)"]
    if session.unchecked:
        lines.append(f"  {session.unchecked} steps before the board's start line: not checked")
    if session.bad_lines:
        lines.append(f"  {session.bad_lines} @tr lines not understood (left out)")
    return lines
