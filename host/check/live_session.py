"""A live session with a board that runs the model on its own samples: its live lines (host/formats/live_lines.py)
checked against the model and the twin, step by step, for `tinyrnn monitor`.

- The board's `@tr start` names its model: a hash other than the artifact's is refused (one line).
- Every step goes through the bit-exact twin (quantize/twin/cells.py TwinModel) fed the board's own x, the state
  zeroed on `@tr reset` and `@tr start`; the verdict is "bit-exact so far: N steps" or the first mismatch (after
  which the twin's state no longer follows the board's, so checking stops there).
- A step number that skips (a line lost or garbled on the link) ends the twin check too: the twin cannot
  follow a state it has not seen; it says so. Steps that arrive before any start line (a board already running
  when the monitor opened the port) are counted, shown, and not checked: the model they come from is unknown.
- `@tr` lines that break the format are counted and reported, never used.
- The session's kernel inputs are kept per sequence (reset to reset) for `--out` (host/check/live_inputs.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrnn.host.formats.live_lines import LiveLine, LiveLineError, LiveReset, LiveStart, LiveStep, parse_line
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.twin.cells import TwinModel


@dataclass
class Verdict:
    """The twin check so far."""
    checked: int = 0                          # steps the twin agreed with
    mismatch: str | None = None               # the first disagreement, said in one line
    stopped: str | None = None                # why checking stopped without a mismatch (a lost step)

    def line(self) -> str:
        if self.mismatch:
            return f"NOT bit-exact: {self.mismatch} (after {self.checked} bit-exact steps)"
        if self.stopped:
            return f"bit-exact for {self.checked} steps, then {self.stopped}"
        return f"bit-exact so far: {self.checked} steps"


@dataclass
class Session:
    twin: TwinModel
    classes: list[str] | None                 # class names of a classifier, None for regression
    start: LiveStart | None = None
    verdict: Verdict = field(default_factory=Verdict)
    steps: int = 0                            # step lines taken (checked or not)
    unchecked: int = 0                        # step lines before any start line
    resets: int = 0
    restarts: int = 0                         # start lines after the first (the board restarted)
    bad_lines: int = 0                        # `@tr` lines that break the format
    latencies: list[int] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    last: LiveStep | None = None
    sequences: list[list[tuple[int, ...]]] = field(default_factory=list)   # x per step, reset to reset
    _state: list | None = None
    _next_step: int | None = None
    _checking: bool = True

    @property
    def params(self):
        return self.twin.params

    def feed(self, text: str) -> LiveLine | LiveLineError | None:
        """One line from the board: the live line it was (after taking it in), the error of a broken `@tr`
        line (counted), or None for any other line."""
        try:
            line = parse_line(text)
        except LiveLineError as e:
            self.bad_lines += 1
            return e
        if isinstance(line, LiveStart):
            self._take_start(line)
        elif isinstance(line, LiveReset):
            self.resets += 1
            self._zero()
        elif isinstance(line, LiveStep):
            error = self._take_step(line)
            if error is not None:
                self.bad_lines += 1
                return error
        return line

    def _take_start(self, line: LiveStart) -> None:
        p = self.params
        if line.model_hash != p.model_hash:
            raise UserError(f"the board runs model {line.model_hash}, not {p.model_hash} (the --model directory)",
                            "flash this model to the board, or give --model the directory of the model it runs")
        if (line.inputs, line.outputs) != (p.input_dim, p.output_dim):
            raise UserError(f"the board says its model has {line.inputs} inputs and {line.outputs} outputs, "
                            f"the model {p.input_dim} and {p.output_dim}", "check the board's live-line code")
        if self.start is not None:
            self.restarts += 1
        self.start = line
        self._zero()

    def _zero(self) -> None:
        self._state = self.twin.initial_state()
        self._next_step = None
        if not self.sequences or self.sequences[-1]:
            self.sequences.append([])

    def _take_step(self, line: LiveStep) -> LiveLineError | None:
        p = self.params
        if len(line.x) != p.input_dim or len(line.y) != p.output_dim:
            return LiveLineError(f"step {line.step}: {len(line.x)} inputs and {len(line.y)} outputs, the model "
                                 f"has {p.input_dim} and {p.output_dim}")
        self.steps += 1
        self.last = line
        self.latencies.append(line.latency)
        name = self.class_name(line.y)
        self.class_counts[name] = self.class_counts.get(name, 0) + 1
        if self.start is None:
            self.unchecked += 1
            return None
        self.sequences[-1].append(line.x)
        if self._checking:
            self._check(line)
        return None

    def _check(self, line: LiveStep) -> None:
        if self._next_step is not None and line.step != self._next_step:
            self.verdict.stopped = (f"step {self._next_step} was followed by step {line.step} (lines lost on the "
                                    "link): the twin cannot follow the board's state from there")
            self._checking = False
            return
        self._next_step = line.step + 1
        if self._state is None:                 # a start line always comes first (_take_step), zeroing it
            self._state = self.twin.initial_state()
        self._state, y = self.twin.step(self._state, np.asarray(line.x, np.int64))
        twin_y = tuple(int(v) for v in y)
        if twin_y != line.y:
            k = next(i for i, (a, b) in enumerate(zip(line.y, twin_y)) if a != b)
            self.verdict.mismatch = (f"step {line.step}: output {k} is {line.y[k]} on the board, {twin_y[k]} in "
                                     f"the twin (x={','.join(map(str, line.x))})")
            self._checking = False
            return
        self.verdict.checked += 1

    def class_name(self, y) -> str:
        """The argmax's class name (a classifier), or "" (regression)."""
        if not self.classes:
            return ""
        return str(self.classes[int(np.argmax(y))])

    def outputs(self, y) -> np.ndarray:
        """Raw outputs -> probabilities (softmax) or normalised regression values."""
        return self.twin.dequantize_output(np.asarray(y))

    def latency_percentiles(self) -> tuple[float, float] | None:
        if not self.latencies:
            return None
        values = np.asarray(self.latencies, np.float64)
        return float(np.percentile(values, 50)), float(np.percentile(values, 99))

    def checked_sequences(self) -> list[np.ndarray]:
        """The kernel inputs of every non-empty sequence since the first start line, (T, d) int16 each."""
        return [np.asarray(s, np.int16).reshape(-1, self.params.input_dim) for s in self.sequences if s]
