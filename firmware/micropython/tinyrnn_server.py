# tinyrnn protocol server for MicroPython (it speaks protocol_ids.PROTOCOL_VERSION): a board that answers
# host/check/harness.py and tests/hw, running the model through tinyrnn_model: the C kernels (tinyrnn_c, natmod
# or user C module) where the board has them, else tinyrnn_mp (the pure-MicroPython kernel). Protocol:
# docs/protocol.md; same behaviour as the C firmware (firmware/app/protocol.c + commands.c): COBS frames, CRC-32,
# HELLO/RESET/STEP/SEQUENCE, the same error codes, garbage skipped up to the next 0x00, a retried request
# answered from the stored reply.
# Constants: protocol_ids.py, generated from host/link/spec.py (never edit numbers here).
#
# On a board (copy tinyrnn_model.py, tinyrnn_server.py, protocol_ids.py, and tinyrnn_c.mpy for its architecture +
# kernel_c.bin, or tinyrnn_mp.py + kernel.bin + tables.bin; `tinyrnn flash` does this with mpremote), main.py:
#
#   import tinyrnn_server
#   tinyrnn_server.main()                                   # USB CDC: sys.stdin/sys.stdout (Ctrl-C off)
#   tinyrnn_server.main(uart=machine.UART(1, 115200))       # or a hardware UART
#
# On the unix port (host/device/micropython.py puts its stdin/stdout on a pty):
#
#   micropython tinyrnn_server.py kernel.bin tables.bin [board_name [kernel_c.bin]]
#
# Latency: time.ticks_us() around each step, so INFO says counter_unit = microseconds, counter_hz = 1e6,
# cpu_clock_hz = machine.freq() where the port has it (0 = unknown, as on the unix port). Under QEMU's -icount
# one virtual microsecond is exactly 1,000 executed instructions: the host then starts the server with
# counter="instructions" (and the board's clock), and INFO says so.

import gc
import struct
import sys
import time

import protocol_ids as P

try:
    from binascii import crc32 as _crc32
except ImportError:
    _crc32 = None

_CRC_TABLE = None
_ticks_us, _ticks_diff = time.ticks_us, time.ticks_diff
_last = _ticks_us()


def heap_alloc():
    """Bytes of the heap in use after a collection; None where gc cannot say (CPython runs this module in tests)."""
    if not hasattr(gc, "mem_alloc"):
        return None
    gc.collect()
    return gc.mem_alloc()


def _agreed_us():
    """A time.ticks_us() reading its successor agrees with (0-50 us later). The qemu port's ticks_us (a
    millisecond count plus SysTick's current value) reads ~1 ms low or high now and then around a SysTick wrap
    (measured: 3-5 in 100,000 back-to-back readings); such a reading disagrees with its neighbour and is dropped.
    A step timed from a 1 ms high start had shown 1 us (zero after the overhead), from a low one +1 ms."""
    a = _ticks_us()
    for _ in range(1000):
        b = _ticks_us()
        if 0 <= _ticks_diff(b, a) <= 50:
            return b
        a = b
    return b


def ticks():
    """_agreed_us(), never behind the previous reading: one still behind (two readings in the same glitch) is
    taken again until the clock is strictly past the previous one, so a step never shows zero time."""
    global _last
    t = _agreed_us()
    if _ticks_diff(t, _last) < 0:
        for _ in range(2000):
            t = _agreed_us()
            if _ticks_diff(t, _last) > 0:
                break
    _last = t
    return t


def crc32(data):
    """CRC-32/ISO-HDLC (zlib's): binascii.crc32 where the port has it, else a 16-entry nibble table."""
    global _CRC_TABLE
    if _crc32 is not None:
        return _crc32(data) & 0xFFFFFFFF
    if _CRC_TABLE is None:
        _CRC_TABLE = []
        for n in range(16):
            c = n
            for _ in range(4):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            _CRC_TABLE.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        crc = (crc >> 4) ^ _CRC_TABLE[crc & 15]
        crc = (crc >> 4) ^ _CRC_TABLE[crc & 15]
    return crc ^ 0xFFFFFFFF


def cobs_encode(data):
    out = bytearray(1)
    code_pos = 0
    code = 1
    n = len(data)
    for i in range(n):
        b = data[i]
        if b == 0:
            out[code_pos] = code
            code_pos = len(out)
            code = 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF and i + 1 < n:     # a full block; start another only if data follows
                out[code_pos] = code
                code_pos = len(out)
                code = 1
                out.append(0)
    out[code_pos] = code
    return out


def cobs_decode(data):
    """Decoded bytes, or None if a block is malformed."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            return None
        out += data[i:i + code - 1]
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return out


def encode_frame(ftype, request_id, payload, session):
    body = struct.pack(P.HEADER_FORMAT, P.PROTOCOL_VERSION, ftype, request_id, session, len(payload)) + payload
    wire = cobs_encode(body + struct.pack("<I", crc32(body)))
    wire.append(0)
    return wire


def error_payload(code, req_type, detail, extra=b""):
    return struct.pack(P.ERROR_FORMAT, code, req_type, detail) + extra


def _text(s, size):
    b = s.encode() if isinstance(s, str) else bytes(s)
    return b[:size] + bytes(size - min(len(b), size))


class Server:
    """The protocol state machine: feed() bytes in, replies go to write(bytes)."""

    def __init__(self, model, write, board_name="micropython", cpu_clock_hz=0, log=None, counter="microseconds"):
        self.model = model
        self.counter_unit = P.COUNTER_INSTRUCTIONS if counter == "instructions" else P.COUNTER_MICROSECONDS
        self.out = model.output_buffer() if model else None
        self.log = log                  # log(text), or None on a board (its stderr is the protocol's line)
        self.write = write
        self.board_name = board_name
        self.cpu_clock_hz = cpu_clock_hz
        self.rx = bytearray()
        self.overflow = False
        self.session = P.NO_SESSION     # opened by a HELLO that carries one (protocol.c)
        self.last = None                # (request id, crc) of the last valid request
        self.last_wire = b""            # ... and the reply it got, resent for a retry
        # STATS counts (protocol.c proto_counts; the port's own UART buffer is no ring of ours: rx_* stay 0
        # but rx_bytes)
        self.counts = dict.fromkeys(P.STATS_FIELDS, 0)
        self.heap_model = 0             # bytes the model took on the heap: main() measures it (0: not measured)
        d = model.input_dim if model else 0
        k = model.output_dim if model else 0
        self.step_bytes = 2 * d
        by_request = (P.MAX_PAYLOAD - P.SEQUENCE_HEADER_SIZE) // self.step_bytes if d else 0
        by_reply = (P.MAX_PAYLOAD - P.SEQUENCE_REPLY_HEADER_SIZE) // (4 + 4 * k)
        self.seq_max_final = by_request
        self.seq_max_per_step = min(by_request, by_reply)
        if model and self.seq_max_per_step < 1:
            raise ValueError("the model's input or output vector does not fit one protocol frame")
        best = 1 << 30
        for _ in range(8):                      # cost of two back-to-back readings, subtracted per step
            t0 = ticks()
            t1 = ticks()
            best = min(best, time.ticks_diff(t1, t0))
        self.overhead = best

    # --- framing (protocol.c proto_feed) -------------------------------------------------------------
    def feed(self, data):
        self.counts["rx_bytes"] += len(data)
        for b in data:
            if b:
                if len(self.rx) < P.MAX_ENCODED_FRAME:
                    self.rx.append(b)
                else:
                    self.overflow = True        # keep discarding until the delimiter
                continue
            raw = self.rx
            self.rx = bytearray()
            if self.overflow:
                self.overflow = False
                self._framing_error(0, 0, P.ERR_FRAME_TOO_LONG, P.MAX_ENCODED_FRAME)
            elif raw:                           # an empty frame (lone 0x00) is ignored
                self._frame(raw)

    def _framing_error(self, req_type, rid, code, detail):
        self.counts["session_refused" if code == P.ERR_BAD_SESSION else "frame_errors"] += 1
        # Not stored as the last reply: a retry of the last valid request still gets its own answer.
        self.write(encode_frame(P.ERROR, rid, error_payload(code, req_type, detail), self.session))

    def _frame(self, raw):
        data = cobs_decode(raw)
        if data is None or len(data) < P.HEADER_SIZE + P.CRC_SIZE:
            self._framing_error(0, 0, P.ERR_BAD_FRAME, 0)
            return
        body = len(data) - P.CRC_SIZE
        version, ftype, rid, session, length = struct.unpack_from(P.HEADER_FORMAT, data, 0)
        (crc,) = struct.unpack_from("<I", data, body)
        if crc32(memoryview(data)[:body]) != crc:
            self._framing_error(ftype, rid, P.ERR_BAD_CRC, 0)
            return
        if version != P.PROTOCOL_VERSION:
            self._framing_error(ftype, rid, P.ERR_BAD_VERSION, P.PROTOCOL_VERSION)
            return
        if length > P.MAX_PAYLOAD or length != body - P.HEADER_SIZE:
            self._framing_error(ftype, rid, P.ERR_BAD_LENGTH, body - P.HEADER_SIZE)
            return
        if self.last == (rid, crc):
            self.write(self.last_wire)          # a retry: the host missed our reply
            self.counts["repeats"] += 1
            return
        if ftype == P.CMD_HELLO:
            if session != P.NO_SESSION:
                self.session = session          # a new session: the board is this host's now
        elif self.session == P.NO_SESSION or session != self.session:
            self._framing_error(ftype, rid, P.ERR_BAD_SESSION, self.session)
            return
        self.last = (rid, crc)
        self.counts["requests"] += 1
        payload = bytes(data[P.HEADER_SIZE:body])
        try:
            rtype, reply = self._command(ftype, payload)
        except Exception as e:                  # never die on a request: report it and keep serving
            if self.log:
                self.log("request 0x%02X failed: %r\n" % (ftype, e))
            rtype, reply = P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, 0)
        self.last_wire = encode_frame(rtype, rid, reply, self.session)
        self.write(self.last_wire)

    # --- commands (commands.c) -----------------------------------------------------------------------
    def _command(self, ftype, payload):
        """(reply type, reply payload) for one valid request."""
        if ftype == P.CMD_HELLO:
            return self._hello(ftype, payload)
        if ftype == P.CMD_RESET:
            if payload:
                return P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, 0)
            if self.model:
                self.model.reset()
            return ftype | P.REPLY_FLAG, b""
        if ftype == P.CMD_STATS:
            if payload:
                return P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, 0)
            self._count_heap()
            return ftype | P.REPLY_FLAG, struct.pack(P.STATS_FORMAT, *(self.counts[f] for f in P.STATS_FIELDS))
        if ftype in (P.CMD_STEP, P.CMD_SEQUENCE) and not self.model:
            return P.ERROR, error_payload(P.ERR_NO_MODEL, ftype, 0)
        if ftype == P.CMD_STEP:
            return self._step(ftype, payload)
        if ftype == P.CMD_SEQUENCE:
            return self._sequence(ftype, payload)
        return P.ERROR, error_payload(P.ERR_UNKNOWN_COMMAND, ftype, 0)

    def _count_heap(self):
        """STATS heap fields: the model's share (measured at load), and free / total now, after a collection."""
        used = heap_alloc()
        if used is None:
            return
        free = gc.mem_free()
        self.counts.update(heap_model=self.heap_model, heap_free=free, heap_size=used + free)

    def _model_hash(self):
        return _text((self.model.model_hash or "") if self.model else "", P.HASH_LEN)

    def _hello(self, ftype, payload):
        if len(payload) not in (0, P.HASH_LEN):
            return P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, P.HASH_LEN)
        board_hash = self._model_hash()
        if payload and payload != board_hash:
            return P.ERROR, error_payload(P.ERR_HASH_MISMATCH, ftype, 0, board_hash)
        m = self.model
        if m:
            cell_id, head_id = m.cell_id, m.head_id
            dims = (m.input_dim, m.output_dim, m.units, m.layers, m.input_frac_bits)
            state_words, scratch_words = m.state_words, m.scratch_words
            kernel = m.kernel_path              # "dsp"/"c"/"m0": the C kernels (tinyrnn_c); "mpy": pure Python
        else:
            cell_id, head_id, dims, state_words, scratch_words, kernel = P.NO_MODEL_CELL, 0, (0, 0, 0, 0, 0), 0, 0, ""
        values = {
            "protocol_version": P.PROTOCOL_VERSION, "cell_id": cell_id, "head_id": head_id,
            "counter_unit": self.counter_unit, "cpu_clock_hz": self.cpu_clock_hz, "counter_hz": 1000000,
            "input_dim": dims[0], "output_dim": dims[1], "units": dims[2], "layers": dims[3],
            "input_frac_bits": dims[4], "max_payload": P.MAX_PAYLOAD,
            "seq_max_steps_per_step": self.seq_max_per_step, "seq_max_steps_final": self.seq_max_final,
            "state_words": state_words, "scratch_words": scratch_words,
            "model_hash": board_hash, "kernel_path": _text(kernel, 4), "board_name": _text(self.board_name, 32),
        }
        return ftype | P.REPLY_FLAG, struct.pack(P.INFO_FORMAT, *[values[name] for name in P.INFO_FIELDS])

    def _timed_step(self, payload, offset):
        x = self.model.input_from(payload, offset)
        y, step = self.out, self.model.step
        t0 = ticks()
        step(x, y)
        t1 = ticks()
        dt = time.ticks_diff(t1, t0) - self.overhead
        return y, dt if dt > 0 else 0

    def _step(self, ftype, payload):
        if len(payload) != self.step_bytes:
            return P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, self.step_bytes)
        y, ticks = self._timed_step(payload, 0)
        return ftype | P.REPLY_FLAG, struct.pack("<I%di" % len(y), ticks, *y)

    def _sequence(self, ftype, payload):
        if len(payload) < P.SEQUENCE_HEADER_SIZE:
            return P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, P.SEQUENCE_HEADER_SIZE)
        flags, _, n = struct.unpack_from(P.SEQUENCE_FORMAT, payload, 0)
        per_step = flags & P.SEQ_PER_STEP
        limit = self.seq_max_per_step if per_step else self.seq_max_final
        if n > limit:
            return P.ERROR, error_payload(P.ERR_SEQUENCE_TOO_LONG, ftype, limit)
        expected = P.SEQUENCE_HEADER_SIZE + n * self.step_bytes
        if n == 0 or len(payload) != expected:
            return P.ERROR, error_payload(P.ERR_BAD_PAYLOAD, ftype, expected & 0xFFFF)
        if flags & P.SEQ_RESET_FIRST:
            self.model.reset()
        ticks, outputs, total, y = [], [], 0, None
        for t in range(n):
            y, dt = self._timed_step(payload, P.SEQUENCE_HEADER_SIZE + t * self.step_bytes)
            total += dt
            if per_step:
                ticks.append(dt)
                outputs.extend(y)
        if not per_step:
            outputs = y
        reply = struct.pack(P.SEQUENCE_REPLY_FORMAT, flags, 0, n, total & 0xFFFFFFFF)
        if per_step:
            reply += struct.pack("<%dI" % n, *ticks)
        return ftype | P.REPLY_FLAG, reply + struct.pack("<%di" % len(outputs), *outputs)


def _cpu_clock_hz():
    try:
        import machine
        return int(machine.freq()) if hasattr(machine, "freq") else 0
    except Exception:
        return 0


def serve(server, read, stop_on_eof=False):
    """Feed server whatever read() returns, forever: None or b"" when nothing arrived (a UART); with
    stop_on_eof, b"" is the end of the stream (stdin of the unix port) and serving stops."""
    while True:
        data = read()
        if data:
            server.feed(data)
        elif stop_on_eof and data is not None:
            return


def main(kernel="kernel.bin", tables="tables.bin", board_name=None, uart=None, log=None, image="kernel_c.bin",
         implementation=None, counter="microseconds", cpu_clock_hz=None, ready=None, kernel_heap=0):
    """Serve on `uart` (machine.UART) or, without one, on sys.stdin/sys.stdout (USB CDC; unix: a pty).
    The model: tinyrnn_model.load(kernel, image, tables, implementation). counter="instructions" only under an
    emulator's -icount (1 us = 1,000 instructions); cpu_clock_hz: the board's, when machine.freq() is absent;
    ready(server): called once the model is loaded, before the first byte is read.
    The heap the model takes (STATS heap_model) is measured around importing the loader (and through it the
    tinyrnn_c natmod, whose code a port may load onto the heap) and loading the model, so they are imported here;
    kernel_heap: the heap a kernel module imported before (a natmod under another name) took, counted too."""
    before = heap_alloc()
    import tinyrnn_model
    model = tinyrnn_model.load(kernel, image, tables, implementation) if kernel or image else None
    model_heap = heap_alloc() - before + kernel_heap if model and before is not None else 0
    if board_name is None:
        board_name = "micropython-" + sys.platform
    clock = cpu_clock_hz if cpu_clock_hz is not None else _cpu_clock_hz()
    if uart is not None:
        server = Server(model, uart.write, board_name, clock, log, counter)
        server.heap_model = model_heap
        return serve(server, uart.read)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    server = Server(model, stdout.write, board_name, clock, log, counter)
    server.heap_model = model_heap
    try:
        import micropython
        micropython.kbd_intr(-1)                # 0x03 is data here, not Ctrl-C
    except (ImportError, AttributeError):
        pass
    if ready:
        ready(server)
    if log:
        log("tinyrnn_server: ready, model %s (%s)\n" % ((model.model_hash, model.implementation) if model
                                                        else ("none", "-")))
    try:
        return serve(server, lambda: stdin.read(1), stop_on_eof=True)
    except OSError:                             # the pty's other side went away
        return


if __name__ == "__main__" and len(sys.argv) > 2:
    # The unix port: micropython tinyrnn_server.py kernel.bin tables.bin [board_name [kernel_c.bin]]; log on stderr.
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None, log=sys.stderr.write,
         image=sys.argv[4] if len(sys.argv) > 4 else "-")
