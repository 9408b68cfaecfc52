"""Sample lines from a board (docs/data-formats.md, "Sample lines from a board"): the one parser.

A board that prints one sample per line is a data source (`tinyrnn record`):

    # rate_hz=10          a comment line; `rate_hz=<float>` states the board's sampling rate
    ax,ay,az              an optional header: channel names, separated like the samples
    0.12,-9.70,0.33       one sample: numbers separated by `,`, tabs or spaces
    0.15 -9.68 0.31       (any one of the three; `\\r\\n` endings are fine)

The parser keeps what it has learned (the channel count, the names, the stated rate) and classifies every line;
what a caller does with a line (record it, count it, say it) is the caller's policy (host/check/sample_recording.py).
A line is never half taken: a sample with another channel count, a word among numbers, NaN or inf is refused whole.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tinyrnn.host.formats.numbers import parse_number

COMMENT = "#"
RATE_KEY = "rate_hz"
_SPLIT = re.compile(r"\s*,\s*|\t+|\s+")          # one separator: a comma (spaces around it allowed), tabs, spaces
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_RATE = re.compile(r"(?:^|\s)rate_hz\s*=\s*(\S+)")


@dataclass(frozen=True)
class Line:
    """One classified line. `kind`: sample, header, rate, comment, blank, garbage (not a sample) or changed (a
    sample or header whose channel count or names differ from the first ones)."""
    kind: str
    text: str
    values: tuple[float, ...] = ()   # sample: the numbers
    names: tuple[str, ...] = ()      # header: the channel names
    rate_hz: float | None = None     # rate: the stated rate
    reason: str = ""                 # garbage, changed: why the line was refused, in a few words


def split_fields(text: str) -> list[str]:
    """The fields of a sample or header line (comma, tab or space separated); "" where a field is empty."""
    return _SPLIT.split(text.strip())


class SampleLineParser:
    """Classifies lines one at a time; the first sample (or header) fixes the channel count."""

    def __init__(self) -> None:
        self.channels: int | None = None          # fixed by the first header or sample
        self.names: tuple[str, ...] | None = None  # from a header line, when the board sends one
        self.stated_rate_hz: float | None = None   # from `# rate_hz=...`

    def parse(self, raw: bytes | str) -> Line:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        text = text.rstrip("\r\n").strip()
        if not text:
            return Line("blank", text)
        if text.startswith(COMMENT):
            return self._comment(text)
        fields = split_fields(text)
        if "" in fields:
            return Line("garbage", text, reason="an empty field")
        numbers = [parse_number(f) for f in fields]
        if all(n is not None for n in numbers):
            return self._sample(text, [float(n) for n in numbers if n is not None])
        if all(_NAME.match(f) for f in fields) and not any(n is not None for n in numbers):
            return self._header(text, tuple(fields))
        bad = next(f for f, n in zip(fields, numbers) if n is None)
        return Line("garbage", text, reason=f"{bad!r} is not a number")

    def _comment(self, text: str) -> Line:
        match = _RATE.search(text[1:])
        if not match:
            return Line("comment", text)
        rate = parse_number(match.group(1))
        if rate is None or not math.isfinite(rate) or rate <= 0:
            return Line("garbage", text, reason=f"rate_hz={match.group(1)} is not a positive number")
        self.stated_rate_hz = rate
        return Line("rate", text, rate_hz=rate)

    def _sample(self, text: str, values: list[float]) -> Line:
        if not all(math.isfinite(v) for v in values):
            return Line("garbage", text, reason="NaN or inf")
        if self.channels is None:
            self.channels = len(values)
        elif len(values) != self.channels:
            return Line("changed", text, reason=f"{len(values)} channels, not {self.channels}")
        return Line("sample", text, values=tuple(values))

    def _header(self, text: str, names: tuple[str, ...]) -> Line:
        if len(set(names)) != len(names):
            return Line("garbage", text, reason="a channel name appears twice")
        if self.channels is None:
            self.channels = len(names)
        elif len(names) != self.channels:
            return Line("changed", text, reason=f"a header of {len(names)} channels, not {self.channels}")
        if self.names is not None and names != self.names:
            return Line("changed", text, reason=f"channel names changed from {','.join(self.names)}")
        self.names = names
        return Line("header", text, names=names)


def sample_line(values, separator: str = ",") -> str:
    """One sample line as a board prints it (for tests and host-side sources): `repr`-exact floats."""
    return separator.join(repr(float(v)) for v in values) + "\n"
