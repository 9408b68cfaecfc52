"""The serial protocol without a board: COBS, CRC, frames, the stream reader, the client's ids/retries/errors,
the generated C header, and the firmware's own framing code (firmware/app/protocol.c) compiled for the host
and fed the same bytes as the Python side."""

import ctypes
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host.link import spec as spec
from tinyrnn.quantize.errors import (BoardNotAnswering, BoardReset, ErrorReply, GarbageError, HashMismatch,
                                 LinkFailure, MalformedReply, SessionTaken)
from tinyrnn.host.link.client import Client, Info, LinkStats
from tinyrnn.host.link.framing import (FrameError, FrameReader, cobs_decode, cobs_encode, crc32, decode_frame,
                                       encode_frame)
from tinyrnn.host.link.transport import Transport

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent


# --- building blocks -----------------------------------------------------------------------------------

def test_crc32_check_value():
    # The catalogue check value of CRC-32/ISO-HDLC, the test vector quoted in docs/protocol.md.
    assert crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("raw, encoded", [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
])
def test_cobs_known_vectors(raw, encoded):
    assert cobs_encode(raw) == encoded
    assert cobs_decode(encoded) == raw


def test_cobs_round_trip_random():
    rng = np.random.default_rng(1)
    for n in list(range(0, 600, 7)) + [253, 254, 255, 508, 509, spec.MAX_FRAME]:
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        if n % 3 == 0:                       # many zeros, and runs without any
            data = bytes(b if b % 5 else 0 for b in data)
        enc = cobs_encode(data)
        assert 0 not in enc
        assert len(enc) <= spec.MAX_ENCODED_FRAME or n > spec.MAX_FRAME
        assert cobs_decode(enc) == data


def test_cobs_decode_rejects_malformed():
    with pytest.raises(ValueError):
        cobs_decode(b"\x05\x11\x22")          # block claims 4 bytes, has 2
    with pytest.raises(ValueError):
        cobs_decode(b"\x02\x11\x00\x11")      # a zero inside an encoded frame


def test_frame_round_trip_and_layout():
    wire = encode_frame(0x03, 0xBEEF, b"\x01\x00\x02")
    assert wire.endswith(b"\x00") and wire.count(0) == 1
    body = cobs_decode(wire[:-1])
    assert body[:8] == struct.pack("<BBHHH", spec.PROTOCOL_VERSION, 0x03, 0xBEEF, 0, 3)
    assert decode_frame(encode_frame(0x03, 1, b"", session=0x1234)[:-1]).session == 0x1234
    assert struct.unpack("<I", body[-4:])[0] == zlib.crc32(body[:-4])
    assert decode_frame(wire[:-1]).payload == b"\x01\x00\x02"


def test_decode_frame_errors():
    good = bytearray(cobs_decode(encode_frame(0x01, 7, b"abc")[:-1]))
    corrupt = bytearray(good)
    corrupt[7] ^= 0x40
    with pytest.raises(FrameError, match="CRC"):
        decode_frame(cobs_encode(bytes(corrupt)))
    with pytest.raises(FrameError, match="shorter"):
        decode_frame(cobs_encode(bytes(good[:5])))
    with pytest.raises(FrameError, match="length"):
        decode_frame(encode_frame(0x01, 7, b"abc", length=9)[:-1])
    with pytest.raises(ValueError):
        encode_frame(0x04, 1, bytes(spec.MAX_PAYLOAD + 1))


def test_frame_reader_skips_garbage_and_truncated_frames():
    reader = FrameReader()
    one, two = encode_frame(0x81, 1, b"x"), encode_frame(0x82, 2, b"")
    stream = b"\x13\x37garbage\x00" + one[:5] + b"\x00" + one + b"\x00\x00" + two
    frames = []
    for i in range(0, len(stream), 3):       # arbitrary chunking must not matter
        frames += reader.feed(stream[i:i + 3])
    assert [(f.type, f.request_id) for f in frames] == [(0x81, 1), (0x82, 2)]
    assert reader.garbage_chunks == 2


def test_frame_reader_drops_over_long_run():
    reader = FrameReader()
    assert reader.feed(b"\x01" * (spec.MAX_ENCODED_FRAME + 10) + b"\x00") == []
    assert reader.garbage_chunks == 1
    assert [f.request_id for f in reader.feed(encode_frame(0x81, 5))] == [5]


def test_transport_on_loop_url():
    with Transport("loop://") as t:
        t.write(b"\xff\xfe\x00" + encode_frame(0x81, 9, b"hi"))
        reader, frames = FrameReader(), []
        for _ in range(20):
            frames += reader.feed(t.read_some())
            if frames:
                break
        assert frames[0].payload == b"hi" and reader.garbage_chunks == 1


def test_committed_header_matches_spec():
    committed = (ROOT / "firmware" / "app" / "protocol_ids.h").read_text()
    assert committed == spec.c_header(), "run: python -m tinyrnn.host.link.spec > firmware/app/protocol_ids.h"


def test_c_header_and_micropython_module_carry_the_same_scalars():
    """Both render spec.SCALARS: every number has the same value in each, and each name appears once."""
    import re
    c_defs = re.findall(r"^#define (PROTO_\w+) (\S+)$", spec.c_header(), re.MULTILINE)
    c_values = {name: int(value, 0) for name, value in c_defs
                if not name.startswith(("PROTO_INFO_", "PROTO_HDR_", "PROTO_STATS_"))}
    namespace = {}
    exec(spec.micropython_module(), namespace)
    numbers = [e for e in spec.SCALARS if e is not None and e[2] != "format"]
    assert len(c_defs) == len(set(n for n, _ in c_defs))
    assert len(c_values) == len(numbers)
    for name, value, _ in numbers:
        assert c_values["PROTO_" + name.removeprefix("PROTOCOL_")] == namespace[name] == value
    for name, value, _style in filter(None, spec.SCALARS):
        assert namespace[name] == value


def test_header_offsets_match_the_header_format():
    import re
    offsets = dict(re.findall(r"^#define PROTO_HDR_(\w+)_OFF (\d+)$", spec.c_header(), re.MULTILINE))
    packed = struct.pack(spec.HEADER_FORMAT, 0x11, 0x22, 0x4433, 0x6655, 0x8877)
    assert {name: packed[int(off)] for name, off in offsets.items()} == \
        {"VERSION": 0x11, "TYPE": 0x22, "REQUEST_ID": 0x33, "SESSION": 0x55, "LENGTH": 0x77}


def test_info_layout_is_consistent():
    offsets = spec.info_offsets()
    assert offsets[-1][1] + offsets[-1][2] == spec.INFO_SIZE == struct.calcsize(spec.INFO_FORMAT)
    assert spec.INFO_SIZE <= spec.MAX_PAYLOAD


# --- the client against a scripted board -----------------------------------------------------------------

def info_payload(**over):
    fields = dict(protocol_version=spec.PROTOCOL_VERSION, cell_id=0, head_id=0, counter_unit=1, cpu_clock_hz=25_000_000,
                  counter_hz=25_000_000, input_dim=2, output_dim=1, units=4, layers=1, input_frac_bits=11,
                  max_payload=spec.MAX_PAYLOAD, seq_max_steps_per_step=3, seq_max_steps_final=5, state_words=2,
                  scratch_words=4, model_hash=b"0123456789abcdef", kernel_path=b"c", board_name=b"fake")
    fields.update(over)
    return struct.pack(spec.INFO_FORMAT, *(fields[name] for name, _ in spec.INFO_FIELDS))


class FakeBoard:
    """A transport whose far end answers like the firmware. Its 'model' is a running sum of the inputs
    (it stands in for the kernel only to check the client's chunking and state handling)."""

    url = "fake://"

    def __init__(self, drop_replies=0, garbage_only=False, silent=False):
        self.reader, self.out = FrameReader(), bytearray()
        self.drop_replies, self.garbage_only, self.silent = drop_replies, garbage_only, silent
        self.state, self.requests, self.session = 0, [], 0
        self.mangle = None              # mangle(frame, reply payload) -> payload: a board that answers wrongly

    def write(self, data):
        for frame in self.reader.feed(data):
            self.requests.append(frame)
            if frame.type == spec.COMMANDS["HELLO"] and frame.session:
                self.session = frame.session
            if frame.type != spec.COMMANDS["HELLO"] and frame.session != self.session:
                reply = (spec.ERROR, struct.pack(spec.ERROR_FORMAT, spec.ERRORS["BAD_SESSION"], frame.type,
                                                 self.session))
            else:
                reply = self.answer(frame)
                if self.mangle and reply[0] != spec.ERROR:
                    reply = (reply[0], self.mangle(frame, reply[1]))
            if self.silent:
                continue
            if self.garbage_only:
                self.out += b"\x55\xaa\x13\x00"
            elif self.drop_replies:
                self.drop_replies -= 1
            else:
                self.out += encode_frame(reply[0], frame.request_id, reply[1], session=self.session)

    def reboot(self):
        self.session, self.state = 0, 0

    def answer(self, frame):
        C = spec.COMMANDS
        if frame.type == C["HELLO"]:
            if frame.payload and frame.payload != b"0123456789abcdef":
                return spec.ERROR, struct.pack(spec.ERROR_FORMAT, spec.ERRORS["HASH_MISMATCH"], frame.type, 0) \
                    + b"0123456789abcdef"
            return frame.type | 0x80, info_payload()
        if frame.type == C["SEQUENCE"]:
            flags, _, n = struct.unpack_from(spec.SEQUENCE_FORMAT, frame.payload)
            if flags & spec.SEQUENCE_FLAGS["RESET_FIRST"]:
                self.state = 0
            x = np.frombuffer(frame.payload, "<i2", offset=4).reshape(n, 2)
            ys = []
            for row in x:
                self.state += int(row.sum())
                ys.append(self.state)
            head = struct.pack(spec.SEQUENCE_REPLY_FORMAT, flags, 0, n, 10 * n)
            return frame.type | 0x80, head + np.full(n, 10, "<u4").tobytes() + np.array(ys, "<i4").tobytes()
        return spec.ERROR, struct.pack(spec.ERROR_FORMAT, spec.ERRORS["UNKNOWN_COMMAND"], frame.type, 0)

    def read_some(self):
        data, self.out = bytes(self.out), bytearray()
        return data

    def close(self):
        pass


def test_client_hello_and_hash_check():
    board = FakeBoard()
    info = Client(board).hello("0123456789abcdef")
    assert (info.board_name, info.model_hash, info.kernel_path, info.unit) == \
        ("fake", "0123456789abcdef", "c", "instructions")
    assert info.ticks_to_count(10) == 400.0                       # 1e9 / 25 MHz per tick under -icount
    with pytest.raises(HashMismatch, match="0123456789abcdef"):
        Client(board).hello("fedcba9876543210")


def test_client_retries_with_the_same_id():
    board = FakeBoard(drop_replies=1)
    Client(board, timeout=0.05, retries=1).hello()
    assert len(board.requests) == 2 and board.requests[0] == board.requests[1]


def test_client_errors_are_typed():
    with pytest.raises(BoardNotAnswering):
        Client(FakeBoard(silent=True), timeout=0.05, retries=1).hello()
    with pytest.raises(GarbageError):
        Client(FakeBoard(garbage_only=True), timeout=0.05, retries=0).hello()


class DamagingLine(FakeBoard):
    """The first `damaged` requests arrive corrupted: the board answers them with `code` (BAD_FRAME with
    request id 0, the others echoing the id) and executes nothing."""

    def __init__(self, code, damaged=1):
        super().__init__()
        self.code, self.damaged, self.writes = code, damaged, []

    def write(self, data):
        self.writes.append(bytes(data))
        if self.damaged:
            self.damaged -= 1
            frame = FrameReader().feed(data)[0]
            request_id = 0 if self.code == "BAD_FRAME" else frame.request_id
            self.out += encode_frame(spec.ERROR, request_id,
                                     struct.pack(spec.ERROR_FORMAT, spec.ERRORS[self.code], 0, 0),
                                     session=self.session)
            return
        super().write(data)


@pytest.mark.parametrize("code", ["BAD_CRC", "BAD_FRAME", "BAD_LENGTH"])
def test_client_resends_a_request_damaged_on_the_way(code):
    line = DamagingLine(code)
    started = time.monotonic()
    info = Client(line, timeout=5.0, retries=2).hello()
    assert info.board_name == "fake"
    assert time.monotonic() - started < 1.0                  # resent at once, not after the timeout
    assert len(line.writes) == 2 and line.writes[0] == line.writes[1]   # the same bytes


def test_client_gives_up_on_a_line_that_always_damages():
    line = DamagingLine("BAD_CRC", damaged=10)
    with pytest.raises(ErrorReply, match="BAD_CRC"):
        Client(line, timeout=5.0, retries=2).hello()
    assert len(line.writes) == 3


def test_sequence_is_chunked_and_resets_only_first():
    board = FakeBoard()
    client = Client(board)
    client.hello()
    x = np.arange(16, dtype=np.int16).reshape(8, 2)
    result = client.sequence(x)                 # 8 steps, at most 3 per request -> 3 requests
    assert np.array_equal(result.outputs[:, 0], np.cumsum(x.sum(axis=1)))
    assert result.total_ticks == 80 and len(result.step_ticks) == 8
    seq = [f for f in board.requests if f.type == spec.COMMANDS["SEQUENCE"]]
    assert [f.payload[0] & spec.SEQUENCE_FLAGS["RESET_FIRST"] for f in seq] == [1, 0, 0]


def test_info_parse_rejects_wrong_size():
    with pytest.raises(MalformedReply):
        Info.parse(b"\x01" * 10)


# --- strict replies, sessions, adaptation ----------------------------------------------------------------

MANGLES = {
    "sequence_short": lambda f, p: p[:-4] if f.type == spec.COMMANDS["SEQUENCE"] else p,
    "sequence_long": lambda f, p: p + b"\x00" * 4 if f.type == spec.COMMANDS["SEQUENCE"] else p,
    "sequence_header_only": lambda f, p: p[:3] if f.type == spec.COMMANDS["SEQUENCE"] else p,
    "sequence_wrong_n": lambda f, p: p[:2] + b"\x09\x00" + p[4:] if f.type == spec.COMMANDS["SEQUENCE"] else p,
    "info_short": lambda f, p: p[:40] if f.type == spec.COMMANDS["HELLO"] else p,
    "empty": lambda f, p: b"",
}


@pytest.mark.parametrize("case", list(MANGLES))
def test_a_crc_valid_reply_of_the_wrong_shape_is_one_clear_error(case):
    """CRC-valid but malformed: MalformedReply naming the request, never struct.error or a wrong array."""
    board = FakeBoard()
    board.mangle = MANGLES[case]
    client = Client(board, timeout=0.2)
    with pytest.raises(MalformedReply) as e:
        client.hello()
        client.sequence(np.ones((5, 2), dtype=np.int16))
    assert ("SEQUENCE" in str(e.value)) or ("HELLO" in str(e.value))
    assert "\n" not in e.value.one_line()


def test_a_short_error_reply_is_malformed_not_a_traceback():
    class ShortError(FakeBoard):
        def answer(self, frame):
            return spec.ERROR, b"\x07"
    with pytest.raises(MalformedReply, match="error reply of 1 bytes to HELLO"):
        Client(ShortError(), timeout=0.2).hello()


def test_a_reboot_between_chunks_reruns_the_sequence_from_its_start():
    board = FakeBoard()
    client = Client(board)
    client.hello()
    x = np.arange(16, dtype=np.int16).reshape(8, 2)
    real_write = board.write
    calls = {"n": 0}

    def write(data):
        calls["n"] += 1
        if calls["n"] == 3:             # HELLO, chunk 1, then the board reboots before chunk 2 arrives
            board.reboot()
        real_write(data)
    board.write = write
    result = client.sequence(x)
    assert np.array_equal(result.outputs[:, 0], np.cumsum(x.sum(axis=1)))      # no false FAIL
    assert client.stats.resets == 1 and client.stats.reruns == 1


def test_a_step_after_a_reboot_raises_board_reset():
    board = FakeBoard()
    client = Client(board)
    client.hello()
    board.reboot()
    with pytest.raises(BoardReset, match="rebooted"):
        client.sequence(np.ones((2, 2), dtype=np.int16), reset=False)


def test_a_second_host_takes_the_session_and_the_first_is_told():
    board = FakeBoard()
    first, second = Client(board), Client(board)
    first.hello()
    second.hello()
    with pytest.raises(SessionTaken, match="another host"):
        first.sequence(np.ones((2, 2), dtype=np.int16))
    assert second.sequence(np.ones((2, 2), dtype=np.int16)).outputs.shape == (2, 1)


def test_chunk_size_follows_the_measured_byte_error_rate():
    client = Client(FakeBoard())
    client.info = Info.parse(info_payload(seq_max_steps_per_step=50, input_dim=6, output_dim=4))
    assert client._best_chunk(50, True) == 50                      # a clean link: the board's limit
    for tries, failed, size in [(1000, 80, (5, 25)), (1000, 500, (1, 4))]:
        client.stats = LinkStats(requests=tries - failed, tries=tries, damaged_replies=failed, bytes_sent=200 * tries,
                                 bytes_received=200 * tries)
        assert size[0] <= client._best_chunk(50, True) <= size[1]
    client.adaptive = False
    assert client._best_chunk(50, True) == 50


def test_a_dead_link_stops_with_its_measured_quality():
    board = FakeBoard(silent=True)
    client = Client(board, timeout=0.02, retries=1, reruns=1)
    client.info = Info.parse(info_payload())
    with pytest.raises(LinkFailure, match="failed 2 times.*100.0% failed"):
        client.sequence(np.ones((4, 2), dtype=np.int16))


# --- the firmware's framing code, compiled for the host ------------------------------------------------

class CRequest(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint8), ("id", ctypes.c_uint16),
                ("payload", ctypes.POINTER(ctypes.c_uint8)), ("len", ctypes.c_uint16)]


@pytest.fixture(scope="module")
def cproto(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler: the firmware framing is still tested on the emulated boards")
    d = tmp_path_factory.mktemp("cproto")
    (d / "board_config.h").write_text('#include "protocol_ids.h"\n')
    (d / "uart_capture.c").write_text(
        "#include <stddef.h>\n#include <stdint.h>\n"
        "uint8_t captured[65536]; size_t captured_len;\n"
        "void uart_write(const uint8_t *d, size_t n) { for (size_t i = 0; i < n; i++) "
        "captured[captured_len++] = d[i]; }\n")
    lib = d / "libproto.so"
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                    f"-I{ROOT / 'firmware/app'}", f"-I{ROOT / 'firmware/platform'}", f"-I{d}",
                    str(ROOT / "firmware/app/protocol.c"), str(d / "uart_capture.c"), "-o", str(lib)], check=True)
    c = ctypes.CDLL(str(lib))
    c.proto_crc32.restype = ctypes.c_uint32
    c.cobs_encode.restype = ctypes.c_size_t
    c.proto_reply_payload.restype = ctypes.POINTER(ctypes.c_uint8)
    c.proto_session.restype = ctypes.c_uint16
    return c


def c_feed(c, data):
    """Feed bytes to proto_feed; return (requests completed, frames the firmware sent back)."""
    captured_len = ctypes.c_size_t.in_dll(c, "captured_len")
    captured_len.value = 0
    requests = []
    for byte in data:
        req = CRequest()
        if c.proto_feed(ctypes.c_uint8(byte), ctypes.byref(req)):
            requests.append((req.type, req.id, ctypes.string_at(req.payload, req.len)))
    sent = ctypes.string_at(ctypes.addressof(ctypes.c_uint8.in_dll(c, "captured")), captured_len.value)
    return requests, FrameReader().feed(sent)


def error_code(frame):
    assert frame.type == spec.ERROR
    return {v: k for k, v in spec.ERRORS.items()}[frame.payload[0]]


@pytest.mark.toolchain
def test_c_crc_and_cobs_match_python(cproto):
    assert cproto.proto_crc32(b"123456789", 9) == 0xCBF43926
    rng = np.random.default_rng(2)
    for n in (0, 1, 253, 254, 255, 600, spec.MAX_FRAME):
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        out = ctypes.create_string_buffer(spec.MAX_ENCODED_FRAME + 8)
        m = cproto.cobs_encode(data, ctypes.c_size_t(n), out)
        assert out.raw[:m] == cobs_encode(data)
        assert cproto.proto_crc32(data, ctypes.c_size_t(n)) == crc32(data)


S = 0x5151   # the session the tests below open on the compiled framing code


def test_c_sessions(cproto):
    """No session after boot: anything but HELLO is refused with BAD_SESSION 0; a HELLO with a session opens
    it; a request of another session is refused with the board's session as detail."""
    if cproto.proto_session() != 0:
        pytest.skip("the module's library already has a session (tests ran out of order)")
    reqs, sent = c_feed(cproto, encode_frame(0x02, 0x10, session=S))
    assert reqs == [] and [(error_code(f), f.payload[2] | f.payload[3] << 8) for f in sent] == [("BAD_SESSION", 0)]
    reqs, sent = c_feed(cproto, encode_frame(0x01, 0x11, session=S))
    assert reqs == [(0x01, 0x11, b"")] and cproto.proto_session() == S
    reqs, sent = c_feed(cproto, encode_frame(0x02, 0x12, session=S + 1))
    assert reqs == [] and [(error_code(f), f.payload[2] | f.payload[3] << 8, f.session) for f in sent] == \
        [("BAD_SESSION", S, S)]


def test_c_accepts_python_frames_and_rejects_bad_ones(cproto):
    c_feed(cproto, encode_frame(0x01, 0x1233, session=S))
    reqs, sent = c_feed(cproto, b"\x00" + encode_frame(0x02, 0x1234, b"\x05\x06", session=S))
    assert reqs == [(0x02, 0x1234, b"\x05\x06")] and sent == []

    corrupted = bytearray(encode_frame(0x02, 0x1235, b"\x05\x06", session=S))
    corrupted[3] ^= 0x01
    cases = [
        (b"\x13\x37\x42\x00", "BAD_FRAME"),                                   # garbage
        (bytes(corrupted), "BAD_CRC"),
        (encode_frame(0x02, 1, b"ab", length=3), "BAD_LENGTH"),
        (encode_frame(0x02, 1, b"ab", version=9), "BAD_VERSION"),
        (b"\x01" * (spec.MAX_ENCODED_FRAME + 5) + b"\x00", "FRAME_TOO_LONG"),
        (cobs_encode(b"\x01\x02\x03") + b"\x00", "BAD_FRAME"),                # truncated
    ]
    for data, expected in cases:
        reqs, sent = c_feed(cproto, data)
        assert reqs == [] and [error_code(f) for f in sent] == [expected], expected
    # and a good frame right after all that still works
    reqs, _ = c_feed(cproto, encode_frame(0x01, 0x2222, session=S))
    assert reqs == [(0x01, 0x2222, b"")]


def test_c_answers_a_retry_from_its_stored_reply(cproto):
    c_feed(cproto, encode_frame(0x01, 0x4241, session=S))
    wire = encode_frame(0x03, 0x4242, b"\x07", session=S)
    reqs, _ = c_feed(cproto, wire)
    assert len(reqs) == 1
    payload = cproto.proto_reply_payload()
    payload[0], payload[1] = 0xAB, 0xCD
    req = CRequest(0x03, 0x4242, None, 1)
    cproto.proto_send_reply(ctypes.byref(req), 2)
    c_feed(cproto, b"\x55\x00")                       # a bad frame in between must not spoil the stored reply
    reqs, sent = c_feed(cproto, wire)                 # the host retries: same bytes
    assert reqs == [] and [(f.type, f.request_id, f.payload) for f in sent] == [(0x83, 0x4242, b"\xab\xcd")]


def test_chunks_grow_back_once_the_line_is_clean_again():
    """After a disturbance (a lost chunk capped the size, damaged tries raised the measured error rate), a clean
    line brings the chunks back to the board's limit instead of 1-step chunks for the rest of the run."""
    board = FakeBoard()
    client = Client(board)
    client.hello()
    limit = client.chunk_limit()
    client._chunk = 1                                        # as after chunks lost whole
    client._recent = [(True, 40)] * 20                       # and a burst of damaged tries
    assert client._best_chunk(limit, True) == 1
    sizes = []
    for _ in range(12):                                      # the damaged tries leave the measured window
        before = len(board.requests)
        client.sequence(np.ones((4 * limit, 2), dtype=np.int16))
        sizes += [struct.unpack_from(spec.SEQUENCE_FORMAT, f.payload)[2] for f in board.requests[before:]]
    assert sizes[0] == 1 and sizes[-1] == limit, sizes
    assert client._chunk is None and client._best_chunk(limit, True) == limit


def test_a_reconnect_waits_while_the_new_port_is_busy(monkeypatch):
    """`tinyrnn flash` holds the restarted emulator's port for its own handshake for a moment: busy is a reason
    to wait on a reconnect, not to stop."""
    from tinyrnn.host.link import client as client_module
    from tinyrnn.quantize.errors import PortBusy, PortError
    opened = []

    def transport(url, baud):
        opened.append(url)
        if len(opened) < 3:
            raise PortBusy(f"{url} is busy", "wait")
        return FakeBoard()
    monkeypatch.setattr(client_module, "Transport", transport)
    client = Client(FakeBoard(), reconnect=lambda: "/dev/pts/new", reconnect_wait=5.0)
    client.transport.baud = 115200
    client._reopen(PortError("gone"))
    assert opened == ["/dev/pts/new"] * 3 and client.stats.reconnects == 1


@pytest.mark.skipif(not Path("/dev/ptmx").exists(), reason="needs ptys")
def test_a_pty_whose_emulator_went_away_fails_as_a_port_error():
    """When QEMU is killed its pty goes with it: pyserial then raises termios.error from tcdrain (the flush
    after every write), which is not an OSError. It must reach the client as PortError (the port went away:
    reconnect), not escape the run as a raw termios traceback."""
    import os

    from tinyrnn.quantize.errors import PortError
    master, slave = os.openpty()
    path = os.ttyname(slave)
    transport = Transport(path)
    os.close(master)                                        # the emulator is killed
    os.close(slave)
    try:
        for call in (lambda: transport.write(b""), lambda: transport.write(b"x"), transport.read_some):
            with pytest.raises(PortError, match="went away") as failure:
                call()
            assert "Input/output error" in failure.value.what
    finally:
        transport.close()


def test_a_port_busy_until_the_deadline_stops_cleanly_saying_so(monkeypatch):
    from tinyrnn.host.link import client as client_module
    from tinyrnn.quantize.errors import PortBusy, PortError

    def transport(url, baud):
        raise PortBusy(f"{url} is busy", "stop the other program")
    monkeypatch.setattr(client_module, "Transport", transport)
    client = Client(FakeBoard(), reconnect=lambda: "/dev/pts/new", reconnect_wait=0.3)
    client.transport.baud = 115200
    with pytest.raises(LinkFailure, match="stayed busy for 0.3 s"):
        client._reopen(PortError("gone"))


def test_by_default_retries_follow_the_line_a_noisy_handshake_gets_through():
    """At 1e-2 byte faults HELLO (a long reply) came through whole less than 1 try in 5, and 5 fixed tries stopped
    the run at once. By default the client keeps trying while the tries come back damaged (the line is alive);
    a number given with retries= still fixes them, and a silent board still gives up after the default tries."""
    line = DamagingLine("BAD_CRC", damaged=12)
    assert Client(line, timeout=5.0).hello().board_name == "fake" and len(line.writes) == 13
    silent = FakeBoard(silent=True)
    with pytest.raises(BoardNotAnswering, match="after 5 tries"):
        Client(silent, timeout=0.02).hello()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_plain_second_reader_of_the_port_is_named(tmp_path):
    """The port's lock is advisory: a reader that takes none (cat, a terminal) is not refused, but it takes the
    board's replies. When no reply comes, the client names it instead of blaming the board or the line."""
    import os
    import sys
    import tty

    from tinyrnn.host.link.port_users import other_users
    from tinyrnn.host.link.transport import Transport
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    reader = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], 'rb'); "
                               "print('open', flush=True); time.sleep(60)", path], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        assert any(f"(pid {reader.pid})" in user for user in other_users(path)), other_users(path)
        client = Client(Transport(path), timeout=0.05, retries=1)
        try:
            with pytest.raises(LinkFailure, match=rf"pid {reader.pid}\) also has the port open.*advisory"):
                client.hello()
        finally:
            client.transport.close()
    finally:
        reader.kill()
        reader.wait()
        os.close(master)
        os.close(slave)
    assert other_users("socket://127.0.0.1:1") == [] and other_users("/nonexistent/port") == []


class SlowBoard(FakeBoard):
    """A FakeBoard whose replies arrive `delay` seconds after the request (an emulator on a loaded host)."""

    def __init__(self):
        super().__init__()
        self.delay, self.queue = 0.0, []

    def write(self, data):
        before = len(self.out)
        super().write(data)
        reply = bytes(self.out[before:])
        del self.out[before:]
        if reply:
            self.queue.append((time.monotonic() + self.delay, reply))

    def read_some(self):
        now = time.monotonic()
        ready = [reply for due, reply in self.queue if due <= now]
        self.queue = [(due, reply) for due, reply in self.queue if due > now]
        if not ready:
            time.sleep(0.001)
        return b"".join(ready)


def test_a_board_that_slows_down_is_waited_for_not_retried_at_the_old_pace():
    """The adaptive timeout learns from fast replies; when the board then answers slower than it (an emulator
    descheduled on a busy host), the first slow reply teaches the client, and the next requests do not time out."""
    board = SlowBoard()
    client = Client(board, timeout=3.0)
    for _ in range(5):
        client.hello()
    assert client._try_timeout(100) < 0.8                # fast replies: the wait shrank to its floor
    board.delay = 0.8
    for _ in range(6):
        client.hello()
    assert client.stats.timeouts <= 1, client.stats.describe()
