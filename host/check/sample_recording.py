"""`tinyrnn record`: labelled sequences from a board's sample lines, appended to a CSV sequence file.

The board prints sample lines (host/formats/sample_lines.py); each recording takes the next `seconds` or
`samples` of them as one sequence, labels it and appends it to the file (host/formats/sequences.py), flushed
and fsynced before the next recording starts, so Ctrl-C or a board that goes away loses nothing already
recorded (the recording in progress is kept too, said as cut short). Lines that are not samples, samples with
another channel count and a rate that drifts are each said in one line and counted; they are never recorded.
"""
from __future__ import annotations

import re
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from tinyrnn.host.formats.sample_lines import SampleLineParser
from tinyrnn.host.formats.sequences import (ID_COLUMN, LABEL_COLUMN, SPLIT_COLUMN, append_csv_sequence, csv_header,
                                            read_sequence_file)
from tinyrnn.host.link.transport import Transport
from tinyrnn.quantize.errors import PortError, UserError

GROUP_COLUMN = "group"
DRIFT_TOLERANCE = 0.25        # a window's rate this far (relative) from the reference rate is a drift
WINDOW_SECONDS = 0.5          # the rate is checked over windows of about this long (at least MIN_WINDOW samples)
MIN_WINDOW = 10
SHOWN_PROBLEMS = 20           # problem lines said one by one; the rest only counted
SPARK = "▁▂▃▄▅▆▇█"
SPARK_ASCII = " .:-=+*#"


def sparkline(values, width: int = 24, ascii_only: bool = False) -> str:
    """The last `width` values as one character each, scaled to their own range."""
    chars = SPARK_ASCII if ascii_only else SPARK
    values = list(values)[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(chars[min(len(chars) - 1, int((v - low) / span * len(chars)))] for v in values)


# ---- the file ---------------------------------------------------------------------------------------

class RecordingFile:
    """The CSV file recordings are appended to: its header (the existing one, or one made at the first
    recording), the ids it holds, and the checks a new recording must pass to join it."""

    def __init__(self, path, group: str | None):
        self.path = Path(path)
        if self.path.suffix.lower() != ".csv":
            raise UserError(f"--out {self.path}: recordings are written as CSV",
                            "give a .csv file (docs/data-formats.md)")
        if self.path.parent and not self.path.parent.is_dir():
            raise UserError(f"--out {self.path}: the folder {self.path.parent} does not exist", "create it first")
        self.header = csv_header(self.path)
        self.ids: set[str] = set()
        self.sequences = 0
        if self.header is not None:
            self._check_existing(group)

    def _check_existing(self, group: str | None) -> None:
        header = self.header or []
        has_group = GROUP_COLUMN in header
        existing = read_sequence_file(self.path, GROUP_COLUMN if has_group else None)  # refuses a broken file
        self.ids, self.sequences = set(existing.ids), len(existing)
        if LABEL_COLUMN not in header:
            raise UserError(f"'{self.path}' has no label column", "record into a new file")
        if has_group and group is None:
            raise UserError(f"'{self.path}' has a {GROUP_COLUMN} column: every recording names its group",
                            "add --group NAME (the subject or session)")
        if group is not None and not has_group:
            raise UserError(f"'{self.path}' has no {GROUP_COLUMN} column for --group",
                            "record into a new file, or drop --group")

    @property
    def channels(self) -> list[str] | None:
        if self.header is None:
            return None
        return [h for h in self.header if h not in (ID_COLUMN, LABEL_COLUMN, SPLIT_COLUMN, GROUP_COLUMN)]

    def check_channels(self, count: int, names) -> list[str]:
        """The channel names a recording of `count` channels is written under (the board's header names,
        the file's, or ch0...); a mismatch with the file is a UserError before anything is written."""
        existing = self.channels
        if existing is not None and count != len(existing):
            raise UserError(f"the board sends {count} channels, '{self.path}' holds {len(existing)} "
                            f"({', '.join(existing)})", "record into a new file, or fix the board's output")
        if existing is not None and names is not None and list(names) != existing:
            raise UserError(f"the board names its channels {', '.join(names)}, '{self.path}' "
                            f"{', '.join(existing)}", "record into a new file, or print the same header")
        return list(names or existing or [f"ch{i}" for i in range(count)])

    def new_id(self, label: str) -> str:
        """`<label>-<n>`, n one more than any such id in the file (never an id the file holds)."""
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", label) or "seq"
        numbers = [int(m.group(1)) for i in self.ids if (m := re.fullmatch(re.escape(stem) + r"-(\d+)", i))]
        n = max(numbers, default=0) + 1
        while f"{stem}-{n:03d}" in self.ids:
            n += 1
        return f"{stem}-{n:03d}"

    def append(self, label: str, split: str, group: str | None, names: list[str], frames) -> str:
        if self.header is None:
            self.header = [ID_COLUMN, LABEL_COLUMN, SPLIT_COLUMN] + ([GROUP_COLUMN] if group is not None else [])
            self.header += names
        fields = {LABEL_COLUMN: label}
        if SPLIT_COLUMN in self.header:
            fields[SPLIT_COLUMN] = split
        elif split != "train":
            raise UserError(f"'{self.path}' has no split column for --split {split}", "record into a new file")
        if group is not None:
            fields[GROUP_COLUMN] = group
        sequence_id = self.new_id(label)
        append_csv_sequence(self.path, self.header, sequence_id, fields, frames)
        self.ids.add(sequence_id)
        self.sequences += 1
        return sequence_id


# ---- the rate ---------------------------------------------------------------------------------------

@dataclass
class RateMeter:
    """Sample arrival times: the measured rate, and a drift check window by window against the board's stated
    rate (or, without one, the first window's)."""
    times: list[float] = field(default_factory=list)
    reference_hz: float | None = None
    window_start: int = 0

    def add(self, t: float) -> None:
        self.times.append(t)

    def measured_hz(self, first: int = 0) -> float | None:
        times = self.times[first:]
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    def window_done(self, stated_hz: float | None) -> tuple[float, float, int] | None:
        """After a full window: (its rate, the reference, its samples) when they differ by more than the tolerance."""
        n = len(self.times) - self.window_start
        guess = stated_hz or self.measured_hz() or 10.0
        if n < max(MIN_WINDOW, int(guess * WINDOW_SECONDS)):
            return None
        rate = self.measured_hz(self.window_start)
        self.window_start = len(self.times) - 1
        if rate is None:
            return None
        reference = stated_hz or self.reference_hz
        if reference is None:
            self.reference_hz = rate
            return None
        return (rate, reference, n) if abs(rate / reference - 1) > DRIFT_TOLERANCE else None


# ---- progress ----------------------------------------------------------------------------------------

class Progress:
    """One recording's progress and a sparkline of what arrives: a tqdm bar on a terminal; anywhere else (a log,
    a test capturing it) a plain line at most once a second."""

    def __init__(self, stream, desc: str, total: float, unit: str):
        self.stream, self.desc, self.total, self.unit = stream, desc, total, unit
        on_terminal = hasattr(stream, "isatty") and stream.isatty()
        self.bar = tqdm(total=total, unit=unit, file=stream, leave=False, desc=desc, mininterval=0.2,
                        bar_format="{desc}: {n:g}/{total:g} {unit} |{bar:20}| {postfix}") if on_terminal else None
        self.printed = 0.0

    def update(self, done: float, spark: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(spark, refresh=False)
            self.bar.n = done
            self.bar.update(0)
        elif time.monotonic() - self.printed >= 1.0:
            self.printed = time.monotonic()
            print(f"{self.desc}: {done:g}/{self.total:g} {self.unit}  {spark}", file=self.stream, flush=True)

    def clear(self) -> None:
        if self.bar is not None:
            self.bar.clear()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---- the session ------------------------------------------------------------------------------------

@dataclass
class Counts:
    samples: int = 0
    garbage: int = 0
    changed: int = 0
    drift: int = 0
    recorded: list[str] = field(default_factory=list)


class Session:
    """One `tinyrnn record` run: reads the port, parses lines, cuts recordings, appends them."""

    def __init__(self, port: str, baud: int, out: RecordingFile, label: str, split: str = "train",
                 group: str | None = None, seconds: float | None = None, samples: int | None = None,
                 repeat: int = 1, timeout: float = 10.0, log=print, progress_stream=None):
        self.port, self.baud, self.out = port, baud, out
        self.label, self.split, self.group = label, split, group
        self.seconds, self.samples, self.repeat, self.timeout = seconds, samples, repeat, timeout
        self.log = log
        self.progress_stream = progress_stream or sys.stderr
        self.parser = SampleLineParser()
        self.rate = RateMeter()
        self.counts = Counts()
        self.current: list[tuple[float, ...]] = []
        self.started_at: float | None = None      # arrival of the current recording's first sample
        self.names: list[str] | None = None
        self.spark: deque = deque(maxlen=64)
        self.ascii = "utf" not in (getattr(sys.stdout, "encoding", "") or "").lower()
        self._said_channels = self._said_rate = False
        self._partial = b""
        self._synced = False                       # the first (possibly cut) line after opening is dropped
        self.bar = None

    # -- reading lines --
    def _lines(self, transport: Transport):
        """(arrival time, line) pairs; raises UserError when no sample has arrived for `timeout` seconds."""
        opened = time.monotonic()
        while True:
            chunk = transport.read_some()
            now = time.monotonic()
            if chunk:
                self._partial += chunk
                *lines, self._partial = self._partial.split(b"\n")
                if not self._synced and lines:
                    lines, self._synced = lines[1:], True
                for line in lines:
                    yield now, line
            last = self.rate.times[-1] if self.rate.times else opened
            if now - last > self.timeout:
                raise UserError(f"no sample lines from {self.port} in {self.timeout:g} s",
                                "check that the board prints one sample per line (docs/data-formats.md) and the "
                                "--port/--baud; a longer --timeout for slow boards")

    # -- one line --
    def _problem(self, kind: str, text: str) -> None:
        total = self.counts.garbage + self.counts.changed + self.counts.drift
        if total <= SHOWN_PROBLEMS:
            self._say(text + (" (further problem lines are only counted)" if total == SHOWN_PROBLEMS else ""))

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        self.log(text)

    def _take(self, t: float, raw: bytes) -> bool:
        """Handle one line; True when the current recording is complete."""
        line = self.parser.parse(raw)
        if line.kind == "garbage":
            self.counts.garbage += 1
            self._problem("garbage", f"garbage line (not recorded): {line.text[:60]!r}: {line.reason}")
        elif line.kind == "changed":
            self.counts.changed += 1
            self._problem("changed", f"channel count changed (line not recorded): {line.text[:60]!r}: {line.reason}")
        elif line.kind == "header" and self.names != list(line.names):
            self._header(line.names)
        elif line.kind == "sample":
            return self._sample(t, line.values)
        return False

    def _header(self, names: tuple[str, ...]) -> None:
        """The board's channel names: they name the file's columns while it has none yet."""
        if self.out.header is not None and self.out.channels != list(names):
            self.current = []           # recorded before the board named its channels otherwise: not mixed in
        self.names = self.out.check_channels(len(names), names)
        if self._said_channels:
            self._say(f"channel names from the board's header: {', '.join(self.names)}")

    def _sample(self, t: float, values: tuple[float, ...]) -> bool:
        if not self._said_channels:
            self.names = self.out.check_channels(len(values), self.parser.names)
            if self.parser.names:
                named = "from the board's header"
            else:
                named = "no header line yet: " + ("the file's names" if self.out.channels else "named ch0...")
            self._say(f"channels: {len(values)} ({', '.join(self.names)}; {named})")
            self._said_channels = True
        if self.seconds is not None and self.started_at is not None and t - self.started_at >= self.seconds:
            self._finish(cut_short=False)
            if len(self.counts.recorded) >= self.repeat:
                return True
        if self.started_at is None:
            self.started_at = t
        self.current.append(values)
        self.counts.samples += 1
        self.rate.add(t)
        self.spark.append(values[0])
        self._check_rate()
        if self.bar is not None:
            done = len(self.current) if self.seconds is None else min(self.seconds, round(t - self.started_at, 1))
            self.bar.update(done, f"{self.names[0] if self.names else 'ch0'} {sparkline(self.spark, 24, self.ascii)}")
        if self.samples is not None and len(self.current) >= self.samples:
            self._finish(cut_short=False)
            return len(self.counts.recorded) >= self.repeat
        return False

    def _check_rate(self) -> None:
        stated = self.parser.stated_rate_hz
        drift = self.rate.window_done(stated)
        if not self._said_rate and (self.rate.reference_hz or (stated and len(self.rate.times) >= MIN_WINDOW)):
            self._said_rate = True
            self._say(self.rate_text())
        if drift:
            self.counts.drift += 1
            rate, reference, n = drift
            self._problem("drift", f"rate drift: {rate:.3g} Hz over the last {n} samples, "
                                   f"{'the board says' if stated else 'it started at'} {reference:.3g} Hz "
                                   "(the samples are recorded)")

    def rate_text(self) -> str:
        stated = self.parser.stated_rate_hz
        measured = self.rate.measured_hz()
        parts = [f"board says {stated:g} Hz" if stated else "the board states no rate (# rate_hz=...)"]
        parts.append(f"measured {measured:.3g} Hz over {len(self.rate.times)} samples" if measured
                     else "not measured yet")
        return "rate: " + "; ".join(parts)

    # -- recordings --
    def _open_bar(self):
        if self.progress_stream is False:
            return None
        total = self.seconds if self.seconds is not None else self.samples
        return Progress(self.progress_stream, f"{self.label} {len(self.counts.recorded) + 1}/{self.repeat}",
                        total or 0, "s" if self.seconds is not None else "samples")

    def _finish(self, cut_short: bool) -> None:
        if not self.current:
            return
        frames = list(self.current)
        duration = self.rate.times[-1] - self.started_at if self.started_at is not None else 0.0
        first = len(self.rate.times) - len(frames)
        measured = self.rate.measured_hz(first)
        sequence_id = self.out.append(self.label, self.split, self.group, self.names or [], frames)
        self.counts.recorded.append(sequence_id)
        self.current, self.started_at = [], None
        if self.bar is not None:
            self.bar.close()
        channel0 = sparkline([f[0] for f in frames], 40, self.ascii)
        self._say(f"recorded {sequence_id}: {len(frames)} samples over {duration:.2f} s"
                  f"{f' ({measured:.3g} Hz)' if measured else ''}{', cut short' if cut_short else ''}, "
                  f"label {self.label}, split {self.split}{f', group {self.group}' if self.group else ''} "
                  f"-> {self.out.path}   {(self.names or ['ch0'])[0]} {channel0}")
        self.bar = self._open_bar() if len(self.counts.recorded) < self.repeat else None

    def run(self) -> Counts:
        """Record until `repeat` recordings are appended. On Ctrl-C or a lost port the recording in progress is
        appended (cut short) before the exception goes on."""
        with Transport(self.port, self.baud) as transport:
            length = f"{self.seconds:g} s" if self.seconds is not None else f"{self.samples} samples"
            self.log(f"recording '{self.label}' from {self.port} into {self.out.path} ({self.repeat} x {length}; "
                     "Ctrl-C stops, keeping what is recorded)")
            self.bar = self._open_bar()
            try:
                for t, raw in self._lines(transport):
                    if self._take(t, raw):
                        break
            except (KeyboardInterrupt, PortError, UserError):     # UserError: the board fell silent
                self._finish(cut_short=True)
                raise
            finally:
                if self.bar is not None:
                    self.bar.close()
        return self.counts

    def summary(self) -> str:
        c = self.counts
        return (f"{len(c.recorded)} recording(s) appended to {self.out.path} (now {self.out.sequences} sequences); "
                f"{c.samples} samples; said: {c.garbage} garbage line(s) and {c.changed} channel-count change(s), "
                f"none recorded, {c.drift} rate drift(s); {self.rate_text()}")
