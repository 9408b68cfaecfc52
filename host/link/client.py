"""The host side of the serial protocol (docs/protocol.md): a client for the board's commands.

  Client      requests with ids, timeouts and bounded retries over framing.py; HELLO/RESET/STEP/SEQUENCE
  connect     open a port (a pyserial URL) and shake hands, refusing a board that runs another model

Constants and record layouts come from link/spec.py (also the source of the firmware's header).
"""

import os
import struct
import time
from dataclasses import dataclass

import numpy as np

from tinyrnn.host.errors import BoardNotAnswering, ErrorReply, GarbageError, HashMismatch
from tinyrnn.host.link import spec
from tinyrnn.host.link.framing import FrameReader, encode_frame
from tinyrnn.host.link.transport import DEFAULT_BAUD, Transport

CMD = spec.COMMANDS
ERR = spec.ERRORS
# Error replies saying our request was damaged on the way (the board executed nothing): resend the same bytes.
TRANSIT_ERRORS = {ERR["BAD_CRC"], ERR["BAD_FRAME"], ERR["BAD_LENGTH"]}
ERROR_NAMES = {code: name for name, code in spec.ERRORS.items()}
CELL_NAMES = {0: "gru", 1: "gru-reset-before", 2: "lstm", spec.NO_MODEL_CELL: "none"}
HEAD_NAMES = {0: "softmax", 1: "linear"}
UNIT_NAMES = {code: name for name, code in spec.COUNTER_UNITS.items()}


@dataclass(frozen=True)
class Info:
    """The HELLO reply: what the board is and what it runs."""
    protocol_version: int
    cell_id: int
    head_id: int
    counter_unit: int
    cpu_clock_hz: int
    counter_hz: int
    input_dim: int
    output_dim: int
    units: int
    layers: int
    input_frac_bits: int
    max_payload: int
    seq_max_steps_per_step: int
    seq_max_steps_final: int
    state_words: int
    scratch_words: int
    model_hash: str
    kernel_path: str
    board_name: str

    @classmethod
    def parse(cls, payload):
        if len(payload) != spec.INFO_SIZE:
            raise GarbageError(f"INFO record of {len(payload)} bytes, expected {spec.INFO_SIZE}")
        values = list(struct.unpack(spec.INFO_FORMAT, payload))
        for i, (name, fmt) in enumerate(spec.INFO_FIELDS):
            if fmt.endswith("s"):
                values[i] = values[i].rstrip(b"\x00").decode("ascii", "replace")
        return cls(*values)

    @property
    def cell(self):
        return CELL_NAMES.get(self.cell_id, f"cell{self.cell_id}")

    @property
    def has_model(self):
        return self.cell_id != spec.NO_MODEL_CELL

    @property
    def unit(self):
        """'cycles' (DWT/SysTick on silicon), 'instructions' (QEMU -icount: executed instructions) or
        'microseconds' (a wall clock: the MicroPython server's time.ticks_us)."""
        return UNIT_NAMES.get(self.counter_unit, "ticks")

    def ticks_to_count(self, ticks):
        """Latency ticks -> cycles or instructions. Under QEMU -icount shift=0 one instruction takes 1 ns of
        virtual time, so a tick of a counter_hz clock stands for 1e9 / counter_hz instructions."""
        ticks = np.asarray(ticks, dtype=np.float64)
        if self.unit == "instructions":
            return ticks * (1e9 / self.counter_hz)
        if self.unit == "microseconds":
            return ticks * (1e6 / self.counter_hz)
        return ticks * (self.cpu_clock_hz / self.counter_hz)

    def count_to_us(self, count):
        """Cycles (or instructions, taking one per cycle) -> microseconds at the board's CPU clock;
        microseconds stay microseconds (the clock may then be unknown: cpu_clock_hz 0)."""
        if self.unit == "microseconds":
            return np.asarray(count, dtype=np.float64)
        return np.asarray(count, dtype=np.float64) * 1e6 / self.cpu_clock_hz

    def describe(self):
        model = (f"{self.cell.upper()} x{self.layers} units={self.units} in={self.input_dim} "
                 f"out={self.output_dim} hash={self.model_hash} kernel={self.kernel_path}"
                 if self.has_model else "no model (bring-up firmware)")
        clock = f"{self.cpu_clock_hz / 1e6:g} MHz" if self.cpu_clock_hz else "clock unknown"
        return (f"{self.board_name} @ {clock}, protocol v{self.protocol_version}, "
                f"latency in {self.unit}; {model}")


@dataclass
class SequenceResult:
    outputs: np.ndarray          # int32 (T, k) per step, or (k,) final only
    step_ticks: np.ndarray       # uint32 (T,) per step, or None when final only
    total_ticks: int             # sum of the per-step ticks, over all chunks


class Client:
    """Requests and replies over a Transport.

    Every request is preceded by a lone 0x00 (the board drops any partial frame and starts afresh), carries
    a fresh request id, and is retried (same bytes, same id) up to `retries` times on a timeout; the board
    recognises a retry and answers it with its stored reply instead of running the command twice, so even
    STEP is safe to retry.
    """

    def __init__(self, transport, timeout=3.0, retries=2):
        self.transport = transport
        self.timeout = timeout
        self.retries = retries
        self.info = None
        self._next_id = int.from_bytes(os.urandom(2), "little")   # two hosts rarely reuse an id
        self._reader = FrameReader()
        self._pending = []            # frames read but not yet claimed
        self.saw_garbage = False

    # --- frames --------------------------------------------------------------------------------------
    def new_id(self):
        self._next_id = (self._next_id + 1) & 0xFFFF
        return self._next_id

    def send_raw(self, data):
        self.transport.write(data)

    def read_frame(self, timeout=None, request_id=None):
        """The next valid frame (with `request_id`, if given: others are stale replies and dropped), or None
        on timeout; `self.saw_garbage` then says whether invalid bytes arrived meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        garbage_before = self._reader.garbage_chunks
        while True:
            while self._pending:
                frame = self._pending.pop(0)
                if request_id is None or frame.request_id == request_id or self._is_transit_error(frame):
                    return frame
            if time.monotonic() >= deadline:
                self.saw_garbage = self._reader.garbage_chunks > garbage_before
                return None
            self._pending.extend(self._reader.feed(self.transport.read_some()))

    @staticmethod
    def _is_transit_error(frame):
        """An error reply about a damaged frame: BAD_FRAME carries request id 0 and BAD_CRC/BAD_LENGTH echo an
        unverified id (docs/protocol.md), so these are taken whatever their id."""
        return frame.type == spec.ERROR and len(frame.payload) >= 1 and frame.payload[0] in TRANSIT_ERRORS

    def request(self, ftype, payload=b""):
        """Send a request; return the reply payload. Error replies raise ErrorReply (or HashMismatch).
        A lost or corrupted reply, or a request the board received damaged (BAD_CRC / BAD_FRAME / BAD_LENGTH),
        is retried with the same bytes, at most `retries` times (the board answers a repeat from its stored
        reply)."""
        request_id = self.new_id()
        wire = b"\x00" + encode_frame(ftype, request_id, payload)
        garbage = False
        transit_error = None
        for _attempt in range(1 + self.retries):
            self.send_raw(wire)
            frame = self.read_frame(request_id=request_id)
            if frame is None:
                garbage |= self.saw_garbage
                continue
            if self._is_transit_error(frame):
                transit_error = self._error_from(frame)
                continue
            if frame.type == spec.ERROR:
                raise self._error_from(frame)
            if frame.type != ftype | spec.REPLY_FLAG:
                raise GarbageError(f"reply type 0x{frame.type:02X} to request 0x{ftype:02X}")
            return frame.payload
        if transit_error is not None:
            raise ErrorReply(f"{transit_error} (request damaged on the line in {1 + self.retries} tries: "
                             "noisy link or wrong baud rate?)", transit_error.code, transit_error.detail,
                             transit_error.extra)
        if garbage:
            raise GarbageError(f"{self.transport.url}: bytes arrived but no valid reply in {1 + self.retries} "
                               "tries (wrong baud rate, or not tinyrnn firmware on this port?)")
        raise BoardNotAnswering(f"{self.transport.url}: no reply after {1 + self.retries} tries of "
                                f"{self.timeout:g} s (is the board running tinyrnn firmware at this baud rate?)")

    @staticmethod
    def _error_from(frame):
        code, req_type, detail = struct.unpack_from(spec.ERROR_FORMAT, frame.payload)
        extra = frame.payload[struct.calcsize(spec.ERROR_FORMAT):]
        name = ERROR_NAMES.get(code, f"error {code}")
        if code == ERR["HASH_MISMATCH"]:
            board_hash = extra.rstrip(b"\x00").decode("ascii", "replace") or "none"
            return HashMismatch(f"board runs model {board_hash}, not the expected one", code, detail, extra)
        return ErrorReply(f"board replied {name} (detail {detail}) to request type 0x{req_type:02X}",
                          code, detail, extra)

    # --- commands ------------------------------------------------------------------------------------
    def hello(self, expected_hash=None):
        """Handshake. With `expected_hash`, a board running another model raises HashMismatch."""
        payload = b""
        if expected_hash is not None:
            payload = expected_hash.encode("ascii")
            if len(payload) != spec.HASH_LEN:
                raise ValueError(f"model hash must be {spec.HASH_LEN} characters, got {expected_hash!r}")
        try:
            self.info = Info.parse(self.request(CMD["HELLO"], payload))
        except HashMismatch as e:
            board_hash = e.extra.rstrip(b"\x00").decode("ascii", "replace") or "none"
            raise HashMismatch(f"{self.transport.url}: board runs model {board_hash}, the artifact is "
                               f"{expected_hash}: flash this model first (tinyrnn flash)",
                               e.code, e.detail, e.extra) from None
        if self.info.protocol_version != spec.PROTOCOL_VERSION:
            raise ErrorReply(f"board speaks protocol v{self.info.protocol_version}, "
                             f"host v{spec.PROTOCOL_VERSION}")
        return self.info

    def _need_info(self):
        if self.info is None:
            self.hello()
        return self.info

    def reset(self):
        self.request(CMD["RESET"])

    def step(self, x_q):
        """One timestep on the board's current state: int16[d] in -> (int32[k] outputs, ticks)."""
        info = self._need_info()
        x = np.asarray(x_q, dtype="<i2").reshape(info.input_dim)
        reply = self.request(CMD["STEP"], x.tobytes())
        (ticks,) = struct.unpack_from(spec.STEP_REPLY_FORMAT, reply)
        y = np.frombuffer(reply, dtype="<i4", offset=struct.calcsize(spec.STEP_REPLY_FORMAT))
        return y.astype(np.int32), ticks

    def sequence(self, x_q, per_step=True, reset=True):
        """Run T timesteps (int16 (T, d)), split into as many SEQUENCE requests as the payload limit needs.
        The first chunk resets the state if `reset`; later chunks continue from it."""
        info = self._need_info()
        x = np.asarray(x_q, dtype="<i2").reshape(-1, info.input_dim)
        limit = info.seq_max_steps_per_step if per_step else info.seq_max_steps_final
        outputs, ticks, total, final = [], [], 0, None
        for start in range(0, len(x), limit):
            chunk = x[start:start + limit]
            flags = (spec.SEQUENCE_FLAGS["PER_STEP"] if per_step else 0) | \
                    (spec.SEQUENCE_FLAGS["RESET_FIRST"] if reset and start == 0 else 0)
            reply = self.request(CMD["SEQUENCE"],
                                 struct.pack(spec.SEQUENCE_FORMAT, flags, 0, len(chunk)) + chunk.tobytes())
            _flags, _res, n, chunk_total = struct.unpack_from(spec.SEQUENCE_REPLY_FORMAT, reply)
            if n != len(chunk):
                raise GarbageError(f"SEQUENCE reply for {n} steps, sent {len(chunk)}")
            total += chunk_total
            off = struct.calcsize(spec.SEQUENCE_REPLY_FORMAT)
            if per_step:
                ticks.append(np.frombuffer(reply, dtype="<u4", count=n, offset=off))
                outputs.append(np.frombuffer(reply, dtype="<i4", offset=off + 4 * n).reshape(n, info.output_dim))
            else:
                final = np.frombuffer(reply, dtype="<i4", offset=off)
        if per_step:
            return SequenceResult(np.concatenate(outputs).astype(np.int32),
                                  np.concatenate(ticks).astype(np.uint32), total)
        return SequenceResult(final.astype(np.int32), None, total)


def connect(port, baud=DEFAULT_BAUD, expected_hash=None, timeout=3.0):
    """Open the port and shake hands (refusing a board that runs another model). Returns a Client."""
    transport = Transport(port, baud)
    try:
        client = Client(transport, timeout=timeout)
        client.hello(expected_hash)
    except Exception:
        transport.close()
        raise
    return client
