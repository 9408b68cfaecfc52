"""`tinyrnn monitor`'s work: read a board's live lines from a port into a Session, show them, end with a summary
and optionally save the session as a recording (see host/check/live_session.py for what is checked)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.host.check import live_inputs
from tinyrnn.host.check.live_session import Session
from tinyrnn.host.formats.sequences import write_csv
from tinyrnn.host.link.transport import Transport
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit.c_library import Preprocess
from tinyrnn.quantize.errors import PortError, TinyRNNError, UserError
from tinyrnn.quantize.twin.cells import TwinModel
from tinyrnn.quantize.twin.params import UnsupportedModel

MAX_LINE = 4096          # bytes without a newline before the buffer is dropped as garbage


@dataclass
class Ending:
    """When a session ends by itself (Ctrl-C always ends it)."""
    steps: int | None = None
    seconds: float | None = None


def open_session(model_dir) -> tuple[Session, Preprocess, list[str]]:
    """The model's twin and names; the pre-processing and channel names --out needs."""
    artifact = Artifact.open(model_dir)
    try:
        twin = TwinModel.from_artifact_dir(model_dir)
    except UnsupportedModel as e:
        raise UserError(str(e), "export the model again (tinyrnn export)") from None
    manifest = artifact.manifest
    classes = [str(c) for c in manifest.classes] if manifest.classes else None
    if twin.params.head_kind != "softmax":
        classes = None
    channels = [str(c) for c in manifest.channels] if manifest.channels else \
        [f"ch{j}" for j in range(twin.params.input_dim)]
    pre = Preprocess(twin.params, int(manifest.downsample or 1))
    return Session(twin, classes), pre, channels


def lines_from(transport: Transport, deadline: float | None):
    """Text lines as they arrive (`\\n`-terminated, `\\r` tolerated) until the deadline (None: forever)."""
    pending = b""
    while deadline is None or time.monotonic() < deadline:
        pending += transport.read_some()
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", errors="replace")
        if len(pending) > MAX_LINE:
            pending = b""


def run(session: Session, port: str, baud: int, ending: Ending, views: list, opened=None) -> tuple[str, float]:
    """Read and show until --steps, --seconds or Ctrl-C; returns (why it ended, seconds). `opened()` is called
    once the port is open (a board started after that is seen from its first line)."""
    started = time.monotonic()
    deadline = started + ending.seconds if ending.seconds else None
    reason = f"--seconds {ending.seconds:g}" if ending.seconds else "the port closed"
    with Transport(port, baud) as transport:
        if opened:
            opened()
        try:
            for text in lines_from(transport, deadline):
                line = session.feed(text)
                if line is None:
                    continue
                for view in views:
                    view.show(session, line)
                if ending.steps and session.steps >= ending.steps:
                    reason = f"--steps {ending.steps}"
                    break
        except KeyboardInterrupt:
            reason = "Ctrl-C"
        except PortError as e:          # the board or its emulator went away: what arrived is still summed up
            reason = f"the port failed: {e.what}"
    for view in views:
        view.close()
    return reason, time.monotonic() - started


def check_out_path(out) -> Path | None:
    """--out FILE: a .csv that does not exist yet (a recording the user made is never overwritten)."""
    if out is None:
        return None
    path = Path(out)
    if path.suffix.lower() != ".csv":
        raise UserError(f"--out {path}: a session is saved as CSV", "give a file name ending in .csv")
    if path.exists():
        raise UserError(f"--out {path} exists already", "give a new file name (nothing is overwritten)")
    if not path.parent.is_dir():
        raise UserError(f"--out {path}: the folder {path.parent} does not exist", "create it first")
    return path


def save(session: Session, pre: Preprocess, channels: list[str], path: Path) -> int:
    """The checked sequences as raw frames in the recordings CSV format; returns the number of sequences.
    Each one is verified to give back the board's kernel inputs through predict's pre-processing."""
    sequences = session.checked_sequences()
    if not sequences:
        raise UserError(f"--out {path}: no steps after the board's start line to save",
                        "let the monitor run while the board starts")
    frames = []
    for x_q in sequences:
        try:
            raw = live_inputs.raw_frames(x_q, pre)
        except ValueError as e:
            raise TinyRNNError(f"--out {path}: {e}") from None
        if not live_inputs.reproduces(raw, x_q, pre):
            raise TinyRNNError(f"--out {path}: the raw frames would not reproduce the board's inputs (a bug)")
        frames.append(raw)
    ids = [f"live-{i + 1:03d}" for i in range(len(frames))]
    write_csv(path, ids, frames, channels)
    return len(frames)
