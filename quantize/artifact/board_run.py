"""A board run's results (`hw/<board>/results.json`, written by the harness) as typed values.

The fields are the ones the reports and commands read; everything else in the file is kept as it is (see
`JsonRecord`). docs/artifacts.md describes the file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.quantize.artifact.record import JsonRecord, write_text_atomic
from tinyrnn.quantize.errors import UserError

RESULTS_NAME = "results.json"


@dataclass(frozen=True)
class Stats(JsonRecord):
    """A distribution's summary (latency per step or per sequence)."""
    p50: float | None = None
    p99: float | None = None
    max: float | None = None
    min: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class Latency(JsonRecord):
    """Latency in the board's unit (cycles, or executed instructions on an emulator) and in µs at its clock."""
    unit: str | None = None
    note: str | None = None
    cpu_clock_hz: float | None = None
    per_step: Stats | None = None
    per_step_us: Stats | None = None
    per_sequence: Stats | None = None
    per_sequence_us: Stats | None = None
    per_step_values: list | None = None     # in memory only: results.json leaves it out

    NESTED = {"per_step": Stats, "per_step_us": Stats, "per_sequence": Stats, "per_sequence_us": Stats}


@dataclass(frozen=True)
class BitExactness(JsonRecord):
    """The board's integers against the twin's over every real step."""
    mismatched_values: int | None = None
    mismatched_steps: int | None = None
    total_values: int | None = None
    first_mismatch: dict | None = None      # sequence, step, output, board, twin

    @property
    def exact(self) -> bool:
        return self.mismatched_values == 0


@dataclass(frozen=True)
class Verdict(JsonRecord):
    passed: bool | None = None
    reasons: list | None = None
    warnings: list | None = None


@dataclass(frozen=True)
class FirmwareSize(JsonRecord):
    """The size report `make -C firmware` wrote (size.json)."""
    flash_bytes: int | None = None
    flash_size: int | None = None
    ram_bytes: int | None = None
    ram_size: int | None = None
    data_bytes: int | None = None
    bss_bytes: int | None = None
    stack_bytes: int | None = None


@dataclass(frozen=True)
class BoardRun(JsonRecord):
    """One board's run of the test split (or of the user's recordings): results.json."""
    board: str | None = None
    port: str | None = None
    model: str | None = None
    model_hash: str | None = None
    cell: str | None = None
    layers: int | None = None
    units: int | None = None
    input_dim: int | None = None
    output_dim: int | None = None
    kernel_path: str | None = None
    cpu_clock_hz: float | None = None
    task: str | None = None
    sequences: int | None = None
    steps: int | None = None
    limit: int | None = None                # None: the whole test split
    bit_exact: BitExactness | None = None
    fidelity: dict | None = None            # figure name -> value (which figures depends on the task)
    thresholds: dict | None = None          # check name -> {value, op, limit, passed}
    latency: Latency | None = None
    firmware_size: FirmwareSize | None = None
    runtime: dict | None = None             # MicroPython boards: implementation, architecture, heap
    wall_seconds: float | None = None
    link: dict | None = None                # the host's link figures; "board": the board's own counts (STATS)
    stopped: str | None = None              # the one-line error that stopped the run, None when it finished
    resumed_sequences: int | None = None
    inputs: dict | None = None              # a run on the user's recordings: file, per_sequence, ...
    verdict: Verdict | None = None
    passed: bool | None = None

    NESTED = {"bit_exact": BitExactness, "latency": Latency, "verdict": Verdict, "firmware_size": FirmwareSize}

    @classmethod
    def of(cls, results) -> "BoardRun":
        """A BoardRun as it is, or one read from the harness's results dict (what `evaluate` returns)."""
        return results if isinstance(results, cls) else cls.from_dict(results)

    @property
    def complete(self) -> bool:
        """A full run of the test split: not a partial (--limit) run, not one the link stopped."""
        return self.limit is None and not self.stopped

    @property
    def board_link_counts(self) -> dict:
        """The board's own link counters (STATS reply), {} when the run did not get them."""
        return (self.link or {}).get("board") or {}

    @property
    def stack(self) -> dict | None:
        """{"used", "size"} of the board's stack from its STATS (protocol v4); None if the board does not
        measure its stack."""
        counts = self.board_link_counts
        if not counts.get("stack_size"):
            return None
        return {"used": counts["stack_used"], "size": counts["stack_size"]}

    # ---- the file ---------------------------------------------------------------------------------
    @staticmethod
    def path_in(run_dir) -> Path:
        return Path(run_dir) / RESULTS_NAME

    @classmethod
    def read(cls, run_dir) -> "BoardRun":
        """results.json of a run directory; a missing or damaged file is a one-line UserError."""
        path = cls.path_in(run_dir)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: cannot read the board run ({' '.join(str(e).split())})",
                            "run the harness on that board again") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: not a board run's results (a JSON {type(data).__name__})",
                            "run the harness on that board again")
        return cls.from_dict(data)

    def write(self, run_dir) -> Path:
        """results.json in `run_dir` (created), without the per-step latency values (they are plotted instead)."""
        out = Path(run_dir)
        out.mkdir(parents=True, exist_ok=True)
        stored = self.to_dict()
        if isinstance(stored.get("latency"), dict):
            stored["latency"] = {k: v for k, v in stored["latency"].items() if k != "per_step_values"}
        path = self.path_in(out)
        write_text_atomic(path, json.dumps(stored, indent=2) + "\n")
        return path

