"""The host side of the serial protocol (docs/protocol.md): a client for the board's commands.

  Client      requests with ids, a session, timeouts and bounded retries over framing.py;
              HELLO/RESET/STEP/SEQUENCE/STATS; chunk size and timeout adapt to the link, and a SEQUENCE hit by a
              reboot or a lost link is re-run
  LinkStats   what the link cost: tries, retries, timeouts, damaged frames, reboots, re-runs
  connect     open a port (a pyserial URL) and shake hands, refusing a board that runs another model

Constants and record layouts come from link/spec.py (also the source of the firmware's header).
"""

import itertools
import math
import os
import struct
import time
from dataclasses import dataclass

import numpy as np

from tinyrnn.quantize.errors import (BoardNotAnswering, BoardReset, ErrorReply, GarbageError, HashMismatch, LinkFailure,
                                     MalformedReply, PortBusy, PortError, SessionTaken, TinyRNNError)
from tinyrnn.host.link import spec
from tinyrnn.host.link.port_users import other_users
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
COMMAND_NAMES = {code: name for name, code in spec.COMMANDS.items()}
MIN_TIMEOUT = 0.5           # seconds: the adaptive timeout never goes below this (a busy host is slow)
TIMEOUT_MARGIN = 4.0        # adaptive timeout = this x the slowest recent reply time per byte of work
# The chunk size follows the line as it is now, not as it was: the byte error rate is measured over the last
# RECENT_TRIES tries, and a chunk cap set after a lost chunk doubles after every CLEAN_STREAK clean requests.
RECENT_TRIES = 64
CLEAN_STREAK = 16
# Retries by link quality (retries=None, the default): at least DEFAULT_RETRIES; once tries come back damaged
# (the line is alive but noisy, not silent), as many as give a request a 1 - LOST_REQUEST chance to get through
# at the damaged fraction measured, up to MAX_TRIES and `time_limit` seconds per request.
DEFAULT_RETRIES = 4
LOST_REQUEST = 1e-4
MAX_TRIES = 400


# What the FAULT reply's detail names (spec.ERRORS "FAULT"): Cortex-M exception numbers, 0x100 + RISC-V mcause.
CORTEXM_FAULTS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}
RISCV_FAULTS = {1: "instruction access fault", 2: "illegal instruction", 5: "load access fault",
                7: "store access fault"}
RISCV_FAULT_BASE = 0x100


def fault_name(detail):
    """The FAULT reply's detail in words: 'HardFault (exception 3)', 'store access fault (mcause 7)'."""
    if detail >= RISCV_FAULT_BASE:
        cause = detail - RISCV_FAULT_BASE
        return f"{RISCV_FAULTS.get(cause, 'exception')} (mcause {cause})"
    return f"{CORTEXM_FAULTS.get(detail, 'exception')} (exception {detail})"


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
            raise MalformedReply(f"malformed reply to HELLO: INFO record of {len(payload)} bytes, expected "
                                 f"{spec.INFO_SIZE}", "the board's firmware speaks another protocol version: "
                                 "rebuild and flash it from this tinyrnn")
        values = list(struct.unpack(spec.INFO_FORMAT, payload))
        for i, (_name, fmt) in enumerate(spec.INFO_FIELDS):
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


@dataclass(frozen=True)
class BoardStats:
    """The STATS reply: what the board counted since boot (spec.STATS_FIELDS)."""
    requests: int
    repeats: int
    frame_errors: int
    session_refused: int
    rx_bytes: int
    rx_dropped: int
    rx_busy: int
    rx_peak: int
    rx_ring_size: int
    stack_used: int
    stack_size: int
    heap_model: int          # the MicroPython server's heap (0 on the C firmware): the model's share
    heap_free: int
    heap_size: int

    @classmethod
    def parse(cls, payload):
        if len(payload) != spec.STATS_SIZE:
            raise MalformedReply(f"malformed reply to STATS: {len(payload)} bytes, expected {spec.STATS_SIZE}",
                                 "a firmware bug or another protocol version: rebuild and flash it")
        return cls(*struct.unpack(spec.STATS_FORMAT, payload))

    def as_dict(self):
        return dict(self.__dict__)


@dataclass
class SequenceResult:
    outputs: np.ndarray          # int32 (T, k) per step, or (k,) final only
    step_ticks: np.ndarray       # uint32 (T,) per step, or None when final only
    total_ticks: int             # sum of the per-step ticks, over all chunks


@dataclass
class LinkStats:
    """What the link cost so far. A 'try' is one sending of a request; a clean link has tries == requests."""
    requests: int = 0            # requests answered
    tries: int = 0               # requests sent, retries included
    retries: int = 0             # tries after the first, for any reason
    timeouts: int = 0            # tries that got nothing in time
    damaged_replies: int = 0     # tries answered by bytes that did not decode (resent at once)
    damaged_requests: int = 0    # tries the board answered BAD_CRC / BAD_FRAME / BAD_LENGTH (resent at once)
    resets: int = 0              # board reboots detected (BAD_SESSION with detail 0)
    reruns: int = 0              # sequences re-run from their start (after a reboot or a lost chunk)
    reconnects: int = 0          # ports reopened after the old one went away (an emulator restarted on a new pty)
    bytes_sent: int = 0
    bytes_received: int = 0
    chunk_steps_min: int = 0     # smallest SEQUENCE chunk the adaptation went down to (0: no SEQUENCE)
    timeout_s: float = 0.0       # the per-try timeout in use at the end

    def failed_try_fraction(self):
        return (self.tries - self.requests) / self.tries if self.tries else 0.0

    def byte_error_estimate(self):
        """Rough probability that a byte is damaged, from the tries that met damaged frames (not timeouts: a
        slow host or board is no reason for smaller chunks) and the bytes one try moves."""
        f = (self.damaged_replies + self.damaged_requests) / self.tries if self.tries else 0.0
        if not self.tries or f <= 0:
            return 0.0
        per_try = max(1.0, (self.bytes_sent + self.bytes_received) / self.tries)
        return 1.0 - (1.0 - min(f, 0.999999)) ** (1.0 / per_try)

    def describe(self):
        return (f"{self.tries} tries for {self.requests} requests ({100 * self.failed_try_fraction():.1f}% failed: "
                f"{self.timeouts} timeouts, {self.damaged_replies} damaged replies, {self.damaged_requests} "
                f"damaged requests; about 1 byte in {self._one_in()} damaged), {self.resets} board resets, "
                f"{self.reconnects} reconnects, {self.reruns} sequences re-run")

    def _one_in(self):
        p = self.byte_error_estimate()
        return f"{1 / p:,.0f}" if p > 0 else "none"

    def as_dict(self):
        d = dict(self.__dict__)
        d["failed_try_fraction"] = round(self.failed_try_fraction(), 6)
        d["byte_error_estimate"] = float(f"{self.byte_error_estimate():.3g}")
        return d


class Client:
    """Requests and replies over a Transport.

    Every request is preceded by a lone 0x00 (the board drops any partial frame and starts afresh), carries
    a fresh request id and the client's session id, and is retried (same bytes, same id) up to `retries` times
    on a timeout, a damaged reply or a request the board received damaged; the board recognises a retry and
    answers it with its stored reply instead of running the command twice, so even STEP is safe to retry.

    `timeout` is the longest wait for one try; once a few replies have been timed, the client waits
    `TIMEOUT_MARGIN` x the slowest recent reply time (scaled by the request's size), at least `MIN_TIMEOUT`.
    SEQUENCE chunks are at most `max_chunk` steps (default: the board's limit); on a link that damages bytes
    the client picks the chunk size that moves the most steps per byte at the byte error rate it has measured
    (`_best_chunk`). `adaptive=False` keeps timeout and chunk size fixed.

    `reconnect`, if given, is called when the port goes away (PortError: an emulator stopped, a board unplugged)
    and returns the URL to reopen (for an emulator, the port its run record names now) or None while there is
    none; the client keeps asking for up to `reconnect_wait` seconds, reopens, opens its session again (the same
    board and model required) and re-runs the interrupted sequence.
    """

    def __init__(self, transport, timeout=3.0, retries=None, max_chunk=None, reruns=3, adaptive=True,
                 reconnect=None, reconnect_wait=20.0, time_limit=120.0):
        self.transport = transport
        self.reconnect = reconnect
        self.reconnect_wait = reconnect_wait
        self.timeout = timeout
        self.retries = retries            # None: by link quality (DEFAULT_RETRIES at least)
        self.time_limit = time_limit      # seconds one request may take with its retries (adaptive retries)
        self.reruns = reruns
        self.max_chunk = max_chunk
        self.adaptive = adaptive
        self.info = None
        self.stats = LinkStats()
        self._next_id = int.from_bytes(os.urandom(2), "little")   # two hosts rarely reuse an id
        self.session = 1 + int.from_bytes(os.urandom(2), "little") % 0xFFFF   # never NO_SESSION (0)
        self._expected_hash = None
        self._reader = FrameReader()
        self._pending = []            # frames read but not yet claimed
        self._rates = []              # seconds per byte of work of recent replies (first tries, and slow
                                      # replies that came only after timeouts)
        self._chunk = None            # a cap on SEQUENCE chunks after a chunk was lost whole (None: none)
        self._recent = []             # (damaged, bytes moved) of the last RECENT_TRIES tries
        self._clean_streak = 0        # requests answered at the first try since the last failed try
        self.saw_garbage = False

    # --- frames --------------------------------------------------------------------------------------
    def new_id(self):
        self._next_id = (self._next_id + 1) & 0xFFFF
        return self._next_id

    def send_raw(self, data):
        self.stats.bytes_sent += len(data)
        self.transport.write(data)

    def read_frame(self, timeout=None, request_id=None, stop_on_garbage=False):
        """The next valid frame (with `request_id`, if given: others are stale replies and dropped), or None
        on timeout, or, with `stop_on_garbage`, as soon as bytes arrive that do not decode (a damaged reply);
        `self.saw_garbage` then says whether invalid bytes arrived meanwhile."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        garbage_before = self._reader.garbage_chunks
        while True:
            while self._pending:
                frame = self._pending.pop(0)
                if request_id is None or frame.request_id == request_id or self._is_transit_error(frame) or \
                        self._is_fault(frame):
                    return frame
            self.saw_garbage = self._reader.garbage_chunks > garbage_before
            if time.monotonic() >= deadline or (stop_on_garbage and self.saw_garbage):
                return None
            data = self.transport.read_some()
            self.stats.bytes_received += len(data)
            self._pending.extend(self._reader.feed(data))

    @staticmethod
    def _is_transit_error(frame):
        """An error reply about a damaged frame: BAD_FRAME carries request id 0 and BAD_CRC/BAD_LENGTH echo an
        unverified id (docs/protocol.md), so these are taken whatever their id."""
        return frame.type == spec.ERROR and len(frame.payload) >= 1 and frame.payload[0] in TRANSIT_ERRORS

    @staticmethod
    def _is_fault(frame):
        """The board's report that it stopped on a fault: sent unasked (request id 0), taken whatever the id."""
        return frame.type == spec.ERROR and len(frame.payload) >= 1 and frame.payload[0] == ERR["FAULT"]

    def _try_timeout(self, work, timeouts=0):
        """The wait for one try: the fixed timeout until a few replies have been timed, then a margin over the
        slowest recent reply; each timeout of the same request doubles it (a board that slowed down, e.g. an
        emulator on a loaded host, is waited for instead of retried at the old pace)."""
        if not self.adaptive or len(self._rates) < 3:
            return self.timeout
        measured = max(MIN_TIMEOUT, TIMEOUT_MARGIN * max(self._rates) * work)
        return min(self.timeout, measured * 2 ** timeouts)

    def request(self, ftype, payload=b""):
        """Send a request; return the reply payload. Error replies raise ErrorReply (or HashMismatch,
        BoardReset, SessionTaken). A lost or damaged reply, or a request the board received damaged
        (BAD_CRC / BAD_FRAME / BAD_LENGTH), is retried with the same bytes, at most `retries` times (the board
        answers a repeat from its stored reply)."""
        request_id = self.new_id()
        wire = b"\x00" + encode_frame(ftype, request_id, payload, session=self.session)
        work = len(wire) + 64
        counts = {"timeout": 0, "garbage": 0, "transit": 0}
        transit_error = None
        began = time.monotonic()
        attempt = 0
        for attempt in itertools.count():
            if attempt >= self._tries_allowed(counts, began):
                break
            self.stats.tries += 1
            self.stats.retries += attempt > 0
            timeout = self._try_timeout(work, counts["timeout"])
            self.stats.timeout_s = round(timeout, 3)
            started = time.monotonic()
            moved = self.stats.bytes_sent + self.stats.bytes_received
            self.send_raw(wire)
            frame = self.read_frame(timeout=timeout, request_id=request_id, stop_on_garbage=True)
            moved = self.stats.bytes_sent + self.stats.bytes_received - moved
            damaged = (frame is None and self.saw_garbage) or (frame is not None and self._is_transit_error(frame))
            self._recent = (self._recent + [(damaged, moved)])[-RECENT_TRIES:]
            self._clean_streak = self._clean_streak + 1 if frame is not None and not damaged and attempt == 0 else 0
            if frame is None:
                kind = "garbage" if self.saw_garbage else "timeout"
                counts[kind] += 1
                if kind == "garbage":
                    self.stats.damaged_replies += 1
                else:
                    self.stats.timeouts += 1
                continue
            if self._is_transit_error(frame):
                transit_error = self._error_from(frame, ftype, request_id)
                counts["transit"] += 1
                self.stats.damaged_requests += 1
                continue
            self.stats.requests += 1
            if attempt == 0:
                self._rates = (self._rates + [(time.monotonic() - started) / work])[-32:]
            elif counts["timeout"] and not counts["garbage"] and not counts["transit"]:
                # Answered after tries timed out: either a request was lost (this reply came in the usual time) or
                # the board is slower than we waited (this is the reply to an earlier send, late by this long).
                # Either way the time since the last send is a fair sample: normal for the first, and for the
                # second it lifts the wait of the next requests (x TIMEOUT_MARGIN) above the board's new pace.
                self._rates = (self._rates + [(time.monotonic() - started) / work])[-32:]
            if frame.type == spec.ERROR:
                raise self._error_from(frame, ftype, request_id)
            if frame.type != ftype | spec.REPLY_FLAG:
                raise MalformedReply(f"reply type 0x{frame.type:02X} to {self._name(ftype)} (request id "
                                     f"0x{request_id:04X})", "a firmware bug or another protocol version: "
                                     "rebuild and flash the firmware from this tinyrnn")
            if frame.session != self.session:
                raise MalformedReply(f"reply to {self._name(ftype)} carries session {frame.session}, not ours "
                                     f"({self.session})", "a firmware bug: rebuild and flash it")
            return frame.payload
        tries = attempt
        quality = f"link so far: {self.stats.describe()}"
        others = other_users(self.transport.url)
        if others:      # a reader that took no lock (the port's lock is advisory) takes bytes meant for us
            raise LinkFailure(f"{self.transport.url}: no valid reply to {self._name(ftype)} in {tries} tries, and "
                              f"{', '.join(others)} also has the port open ({quality})",
                              "stop that program: it takes bytes meant for the harness (the port's lock is "
                              "advisory: programs that take none are not refused)")
        if counts["transit"] and transit_error is not None and counts["transit"] >= max(counts.values()):
            raise ErrorReply(f"{transit_error} (request damaged on the line in {counts['transit']} of {tries} "
                             f"tries; {quality})", transit_error.code, transit_error.detail, transit_error.extra)
        if counts["garbage"]:
            raise GarbageError(f"{self.transport.url}: no valid reply to {self._name(ftype)} in {tries} tries, "
                               f"{counts['garbage']} damaged ({quality})",
                               "a noisy line (check cable and ground, or lower --baud), a wrong baud rate, or "
                               "not tinyrnn firmware on this port")
        raise BoardNotAnswering(f"{self.transport.url}: no reply to {self._name(ftype)} after {tries} tries of up "
                                f"to {self.timeout:g} s ({quality})",
                                "is the board running tinyrnn firmware at this baud rate? (--timeout for a "
                                "slow board)")

    def _tries_allowed(self, counts, began):
        """Tries one request may take: 1 + retries when set; by default at least 1 + DEFAULT_RETRIES, and on a
        line that damages frames (not a silent one) as many as its measured damaged fraction calls for."""
        if self.retries is not None:
            return 1 + self.retries
        fixed = 1 + DEFAULT_RETRIES
        damaged = counts["garbage"] + counts["transit"]
        if not self.adaptive or not damaged:
            return fixed
        if time.monotonic() - began >= self.time_limit:
            return 0
        failed = sum(d for d, _ in self._recent) / len(self._recent) if self._recent else 1.0
        failed = max(failed, damaged / max(1, sum(counts.values())))     # this request's own tries
        if failed >= 1.0:
            return MAX_TRIES
        needed = math.ceil(math.log(LOST_REQUEST) / math.log(failed)) if failed > 0 else fixed
        return max(fixed, min(MAX_TRIES, needed))

    @staticmethod
    def _name(ftype):
        return COMMAND_NAMES.get(ftype, f"request type 0x{ftype:02X}")

    def _error_from(self, frame, ftype, request_id):
        if len(frame.payload) < spec.ERROR_SIZE:
            return MalformedReply(f"error reply of {len(frame.payload)} bytes to {self._name(ftype)} (request "
                                  f"id 0x{request_id:04X}), expected at least {spec.ERROR_SIZE}",
                                  "a firmware bug or another protocol version: rebuild and flash it")
        code, req_type, detail = struct.unpack_from(spec.ERROR_FORMAT, frame.payload)
        extra = frame.payload[spec.ERROR_SIZE:]
        name = ERROR_NAMES.get(code, f"error {code}")
        if code == ERR["HASH_MISMATCH"]:
            board_hash = extra.rstrip(b"\x00").decode("ascii", "replace") or "none"
            return HashMismatch(f"board runs model {board_hash}, not the expected one", code, detail, extra)
        if code == ERR["BAD_SESSION"] and detail == spec.NO_SESSION:
            return BoardReset(f"{self.transport.url}: the board rebooted (it answered {self._name(ftype)} with "
                              "BAD_SESSION 0): the recurrent state it held is gone")
        if code == ERR["FAULT"]:
            return ErrorReply(f"{self.transport.url}: the board stopped on a fault ({fault_name(detail)}) while "
                              f"answering {self._name(ftype)}: a stack overflow or a firmware bug; reset or flash it "
                              "again, and send this line and the ELF if it recurs", code, detail, extra)
        if code == ERR["BAD_SESSION"]:
            return SessionTaken(f"{self.transport.url}: another host opened session {detail} on this board "
                                f"(ours was {self.session}): it no longer serves this run",
                                "one client per board: stop the other program, then run again")
        return ErrorReply(f"board replied {name} (detail {detail}) to {self._name(ftype)}", code, detail, extra)

    def _malformed(self, what, ftype):
        return MalformedReply(f"malformed reply to {self._name(ftype)}: {what}",
                              "the board's firmware speaks another protocol version or has a bug: rebuild and "
                              "flash it from this tinyrnn")

    # --- commands ------------------------------------------------------------------------------------
    def hello(self, expected_hash=None):
        """Handshake: opens this client's session on the board. With `expected_hash`, a board running another
        model raises HashMismatch."""
        payload = b""
        if expected_hash is not None:
            payload = expected_hash.encode("ascii")
            if len(payload) != spec.HASH_LEN:
                raise ValueError(f"model hash must be {spec.HASH_LEN} characters, got {expected_hash!r}")
        try:
            info = Info.parse(self.request(CMD["HELLO"], payload))
        except HashMismatch as e:
            board_hash = e.extra.rstrip(b"\x00").decode("ascii", "replace") or "none"
            raise HashMismatch(f"{self.transport.url}: board runs model {board_hash}, the artifact is "
                               f"{expected_hash}: flash this model first (tinyrnn flash)",
                               e.code, e.detail, e.extra) from None
        if info.protocol_version != spec.PROTOCOL_VERSION:
            raise ErrorReply(f"board speaks protocol v{info.protocol_version}, "
                             f"host v{spec.PROTOCOL_VERSION}")
        if self.info is not None and info != self.info:
            raise TinyRNNError(f"{self.transport.url}: the board came back as another board or model "
                               f"({info.describe()})", "flash the model again and rerun")
        self.info = info
        self._expected_hash = expected_hash
        return self.info

    def _need_info(self):
        if self.info is None:
            self.hello()
        return self.info

    def reset(self):
        self.request(CMD["RESET"])

    def board_stats(self):
        """The board's own counts since boot (STATS): requests, retries it answered, damaged frames, and its
        receive ring (bytes dropped, bytes taken while busy, high-water mark)."""
        self._need_info()
        return BoardStats.parse(self.request(CMD["STATS"]))

    def step(self, x_q):
        """One timestep on the board's current state: int16[d] in -> (int32[k] outputs, ticks)."""
        info = self._need_info()
        x = np.asarray(x_q, dtype="<i2").reshape(info.input_dim)
        reply = self.request(CMD["STEP"], x.tobytes())
        expected = spec.STEP_REPLY_HEADER_SIZE + 4 * info.output_dim
        if len(reply) != expected:
            raise self._malformed(f"{len(reply)} bytes, expected {expected}", CMD["STEP"])
        (ticks,) = struct.unpack_from(spec.STEP_REPLY_FORMAT, reply)
        y = np.frombuffer(reply, dtype="<i4", offset=spec.STEP_REPLY_HEADER_SIZE)
        return y.astype(np.int32), ticks

    def chunk_limit(self, per_step=True):
        info = self._need_info()
        limit = info.seq_max_steps_per_step if per_step else info.seq_max_steps_final
        if limit < 1:
            raise self._malformed(f"INFO says at most {limit} steps per SEQUENCE", CMD["HELLO"])
        return max(1, min(limit, self.max_chunk or limit))

    def _parse_sequence(self, reply, flags, n, per_step):
        k = self.info.output_dim
        head = spec.SEQUENCE_REPLY_HEADER_SIZE
        expected = head + (4 * n + 4 * n * k if per_step else 4 * k)
        if len(reply) != expected:
            raise self._malformed(f"{len(reply)} bytes for {n} steps, expected {expected}", CMD["SEQUENCE"])
        r_flags, _res, r_n, total = struct.unpack_from(spec.SEQUENCE_REPLY_FORMAT, reply)
        if r_n != n or r_flags != flags:
            raise self._malformed(f"it says {r_n} steps with flags 0x{r_flags:02X}; sent {n} with 0x{flags:02X}",
                                  CMD["SEQUENCE"])
        if per_step:
            ticks = np.frombuffer(reply, dtype="<u4", count=n, offset=head)
            outputs = np.frombuffer(reply, dtype="<i4", offset=head + 4 * n).reshape(n, k)
            return outputs, ticks, total
        return np.frombuffer(reply, dtype="<i4", offset=head), None, total

    def _best_chunk(self, limit, per_step):
        """The chunk (steps) that moves the most steps per byte sent on a link that damages each byte with the
        probability measured so far: a chunk of c steps costs (h + b*c) bytes both ways and gets through
        whole with probability (1 - p)^(h + b*c). A clean link gets the board's limit."""
        if self._chunk and self._clean_streak >= CLEAN_STREAK:         # the line is clean again: grow back
            self._chunk = None if 2 * self._chunk >= limit else 2 * self._chunk
            self._clean_streak = 0
        cap = min(limit, self._chunk or limit)
        p = self._recent_byte_error() if self._recent else self.stats.byte_error_estimate()
        if not self.adaptive or p <= 0:
            return cap
        info = self.info
        framing = 2 * (1 + spec.HEADER_SIZE + spec.CRC_SIZE + 2)          # both frames: 0x00, COBS, delimiter
        h = (framing + spec.SEQUENCE_HEADER_SIZE + spec.SEQUENCE_REPLY_HEADER_SIZE
             + (0 if per_step else 4 * info.output_dim))
        b = 2 * info.input_dim + (4 + 4 * info.output_dim if per_step else 0)
        b *= 255 / 254                                                      # COBS overhead
        costs = [((h + b * c) / (c * (1 - p) ** (h + b * c)), c) for c in range(1, cap + 1)]
        return min(costs)[1]

    def _recent_byte_error(self):
        """The byte error rate over the last tries (the run's own figure, stats, covers every try)."""
        recent = LinkStats(tries=len(self._recent), damaged_replies=sum(d for d, _ in self._recent),
                           bytes_sent=sum(n for _, n in self._recent))
        return recent.byte_error_estimate()

    def _sequence_once(self, x, per_step, reset):
        limit = self.chunk_limit(per_step)
        outputs, ticks, total, final = [], [], 0, None
        start = 0
        while start < len(x):
            size = self._best_chunk(limit, per_step)
            low = self.stats.chunk_steps_min
            self.stats.chunk_steps_min = min(low, size) if low else size
            chunk = x[start:start + size]
            flags = (spec.SEQUENCE_FLAGS["PER_STEP"] if per_step else 0) | \
                    (spec.SEQUENCE_FLAGS["RESET_FIRST"] if reset and start == 0 else 0)
            reply = self.request(CMD["SEQUENCE"],
                                 struct.pack(spec.SEQUENCE_FORMAT, flags, 0, len(chunk)) + chunk.tobytes())
            y, t, chunk_total = self._parse_sequence(reply, flags, len(chunk), per_step)
            total += chunk_total
            if per_step:
                outputs.append(y)
                ticks.append(t)
            else:
                final = y
            start += len(chunk)
        if per_step:
            return SequenceResult(np.concatenate(outputs).astype(np.int32),
                                  np.concatenate(ticks).astype(np.uint32), total)
        return SequenceResult(final.astype(np.int32), None, total)

    def sequence(self, x_q, per_step=True, reset=True):
        """Run T timesteps (int16 (T, d)), split into as many SEQUENCE requests as the payload limit (and the
        link) allow. The first chunk resets the state if `reset`; later chunks continue from it.

        With `reset`, the sequence is self-contained, so a board reboot detected on the way (BoardReset) or a
        chunk lost after every retry is handled by opening the session again and re-running the whole sequence
        from its start (at most `reruns` times); both are counted in `stats`. Without `reset` the state before
        the call is not the host's to rebuild, and those errors are raised."""
        info = self._need_info()
        x = np.asarray(x_q, dtype="<i2").reshape(-1, info.input_dim)
        last = None
        for attempt in range(1 + (self.reruns if reset else 0)):
            if attempt:
                self.stats.reruns += 1
            try:
                if isinstance(last, PortError):
                    self._reopen(last)                     # then a HELLO, as after a reset
                if isinstance(last, (BoardReset, PortError)):
                    self.hello(self._expected_hash)        # open our session again, same model required
                return self._sequence_once(x, per_step, reset)
            except PortBusy:
                raise
            except PortError as e:
                if self.reconnect is None or not reset:
                    raise
                last = e
                continue
            except BoardReset as e:
                self.stats.resets += 1
                last = e
            except (BoardNotAnswering, GarbageError) as e:
                last = e
            except ErrorReply as e:
                if e.code not in TRANSIT_ERRORS:
                    raise
                last = e
            if not reset:
                raise last
            if self.adaptive and not isinstance(last, BoardReset):    # a chunk lost whole: cap the size lower
                self._chunk = max(1, (self._chunk or self.chunk_limit(per_step)) // 2)
        raise LinkFailure(f"{self.transport.url}: a sequence failed {1 + self.reruns} times ({last.what}); "
                          f"link: {self.stats.describe()}",
                          "fix the line (cable, ground, baud rate), or allow more with --retries/--reruns")


    def _reopen(self, lost):
        """The port went away: ask `reconnect` for the board's port until it names one that opens."""
        old = self.transport.url
        self.transport.close()
        deadline = time.monotonic() + self.reconnect_wait
        busy = None
        while True:
            url = self.reconnect()
            if url:
                try:
                    self.transport = Transport(url, self.transport.baud)
                    self.stats.reconnects += 1
                    return
                except PortBusy as e:     # `tinyrnn flash` holds a new port for its own handshake: wait for it
                    busy = e
                except PortError:
                    busy = None
            if time.monotonic() >= deadline:
                if busy is not None:
                    raise LinkFailure(f"{old} went away ({lost.what}) and the port its board came back on stayed "
                                      f"busy for {self.reconnect_wait:g} s ({busy.what})", busy.fix) from None
                raise LinkFailure(f"{old} went away ({lost.what}) and no board came back on a port in "
                                f"{self.reconnect_wait:g} s", "restart the emulator (tinyrnn flash) or replug "
                                "the board, then run again") from None
            time.sleep(0.2)


def connect(port, baud=DEFAULT_BAUD, expected_hash=None, timeout=3.0, **options):
    """Open the port (exclusively) and shake hands, refusing a board that runs another model. `options` go to
    Client (retries, reruns, max_chunk, adaptive). Returns a Client."""
    transport = Transport(port, baud)
    try:
        client = Client(transport, timeout=timeout, **options)
        client.hello(expected_hash)
    except Exception:
        transport.close()
        raise
    return client
