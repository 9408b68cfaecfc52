"""Live lines: what a board running a model prints per step, for `tinyrnn monitor` (spec: docs/data-formats.md,
"Live lines from a board").

Every live line starts with `@tr ` and is `key=value` pairs separated by single spaces:

    @tr start model=<16 hex digits> inputs=<d> outputs=<k> unit=<instructions|cycles|us>
    @tr step=<n> x=<d ints> y=<k ints> lat=<int>          (x: int16 kernel inputs, y: int32 raw outputs)
    @tr reset

Any other line is not a live line (a board may print other things): `parse_line` returns None for it. A line
that starts with `@tr ` but breaks the format is a `LiveLineError` naming what is wrong, so the caller can count
and report it instead of mixing it in. Standard library only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "@tr "
UNITS = ("instructions", "cycles", "us")
UNIT_NAMES = {"instructions": "instructions", "cycles": "cycles", "us": "µs"}
_HASH = re.compile(r"[0-9a-f]{16}")
INT16 = (-(1 << 15), (1 << 15) - 1)
INT32 = (-(1 << 31), (1 << 31) - 1)


class LiveLineError(ValueError):
    """A line that starts with `@tr ` but is not one of the documented live lines."""


@dataclass(frozen=True)
class LiveStart:
    """The board (re)started: the model it runs and the unit of its latencies."""
    model_hash: str
    inputs: int
    outputs: int
    unit: str


@dataclass(frozen=True)
class LiveStep:
    """One model step: its number, the kernel inputs it used, its raw outputs and its latency."""
    step: int
    x: tuple[int, ...]
    y: tuple[int, ...]
    latency: int


@dataclass(frozen=True)
class LiveReset:
    """The board zeroed the model's state (a new window or sequence)."""


LiveLine = LiveStart | LiveStep | LiveReset


def parse_line(text: str) -> LiveLine | None:
    """One line (its `\\n`/`\\r` tolerated) -> a live line, or None when it is not one (no `@tr ` prefix)."""
    line = text.rstrip("\r\n")
    if not line.startswith(PREFIX):
        return None
    body = line[len(PREFIX):]
    if body == "reset":
        return LiveReset()
    if body.startswith("start "):
        return _start(_pairs(body[len("start "):], ("model", "inputs", "outputs", "unit")))
    if body.startswith("step="):
        return _step(_pairs(body, ("step", "x", "y", "lat")))
    raise LiveLineError(f"unknown live line {_shown(line)} (expected @tr start, @tr step=..., @tr reset)")


def _shown(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


def _pairs(body: str, keys: tuple[str, ...]) -> dict[str, str]:
    """`k=v k=v ...` with exactly `keys`, in that order, single spaces."""
    parts = body.split(" ")
    found = [p.split("=", 1)[0] for p in parts]
    if found != list(keys) or any("=" not in p for p in parts):
        raise LiveLineError(f"live line {_shown(PREFIX + body)} has fields {' '.join(found)}, "
                            f"expected {' '.join(k + '=' for k in keys)}")
    return {p.split("=", 1)[0]: p.split("=", 1)[1] for p in parts}


def _int(text: str, what: str, bounds: tuple[int, int]) -> int:
    if not re.fullmatch(r"-?[0-9]+", text):
        raise LiveLineError(f"{what} {text!r} is not an integer")
    value = int(text)
    if not bounds[0] <= value <= bounds[1]:
        raise LiveLineError(f"{what} {value} is outside {bounds[0]}..{bounds[1]}")
    return value


def _ints(text: str, what: str, bounds: tuple[int, int]) -> tuple[int, ...]:
    return tuple(_int(v, what, bounds) for v in text.split(","))


def _start(f: dict[str, str]) -> LiveStart:
    if not _HASH.fullmatch(f["model"]):
        raise LiveLineError(f"start: model {f['model']!r} is not 16 lower-case hex digits")
    if f["unit"] not in UNITS:
        raise LiveLineError(f"start: unit {f['unit']!r} is not one of {', '.join(UNITS)}")
    inputs = _int(f["inputs"], "start: inputs", (1, 1 << 16))
    outputs = _int(f["outputs"], "start: outputs", (1, 1 << 16))
    return LiveStart(f["model"], inputs, outputs, f["unit"])


def _step(f: dict[str, str]) -> LiveStep:
    return LiveStep(step=_int(f["step"], "step", (0, INT32[1] * 2 + 1)), x=_ints(f["x"], "x", INT16),
                    y=_ints(f["y"], "y", INT32), latency=_int(f["lat"], "lat", (0, 1 << 62)))


def format_start(model_hash: str, inputs: int, outputs: int, unit: str) -> str:
    """The start line (no newline); the boards' helpers print the same text."""
    return f"{PREFIX}start model={model_hash} inputs={inputs} outputs={outputs} unit={unit}"


def format_step(step: int, x, y, latency: int) -> str:
    """A step line (no newline)."""
    return (f"{PREFIX}step={step} x={','.join(str(int(v)) for v in x)} y={','.join(str(int(v)) for v in y)} "
            f"lat={latency}")


RESET_LINE = PREFIX + "reset"
