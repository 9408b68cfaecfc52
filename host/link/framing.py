"""Protocol framing (docs/protocol.md, "Framing"): bytes on the wire <-> frames.

Layers, bottom up:
  cobs_encode / cobs_decode      byte stuffing, so 0x00 only ever appears as the frame delimiter
  encode_frame / decode_frame    header + payload + CRC-32 <-> Frame
  FrameReader                    a byte stream -> frames, skipping garbage up to the next delimiter
"""

import struct
import zlib
from dataclasses import dataclass

from tinyrnn.host.link import spec


def crc32(data):
    """CRC-32/ISO-HDLC, as zlib computes it: check value crc32(b"123456789") == 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data):
    """Consistent Overhead Byte Stuffing; the result contains no 0x00 (same algorithm as the firmware)."""
    out = bytearray([0])
    code_pos, code = 0, 1
    for i, byte in enumerate(data):
        if byte == 0:
            out[code_pos] = code
            code_pos, code = len(out), 1
            out.append(0)
        else:
            out.append(byte)
            code += 1
            if code == 0xFF and i + 1 < len(data):   # a full block; start another only if data follows
                out[code_pos] = code
                code_pos, code = len(out), 1
                out.append(0)
    out[code_pos] = code
    return bytes(out)


def cobs_decode(data):
    """Inverse of cobs_encode; raises ValueError on a malformed block."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > len(data):
            raise ValueError("malformed COBS block")
        out += data[i:i + code - 1]
        i += code - 1
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    version: int
    type: int
    request_id: int
    payload: bytes
    session: int = spec.NO_SESSION


def encode_frame(ftype, request_id, payload=b"", version=spec.PROTOCOL_VERSION, length=None,
                 session=spec.NO_SESSION):
    """The bytes to put on the wire: COBS(header + payload + CRC) + 0x00.
    `length` overrides the header's length field (only tests want a wrong one)."""
    if len(payload) > spec.MAX_PAYLOAD and length is None:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the maximum {spec.MAX_PAYLOAD}")
    body = struct.pack(spec.HEADER_FORMAT, version, ftype, request_id & 0xFFFF, session & 0xFFFF,
                       len(payload) if length is None else length) + payload
    return cobs_encode(body + struct.pack("<I", crc32(body))) + b"\x00"


class FrameError(ValueError):
    """A delimited chunk that is not a valid frame."""


def decode_frame(raw):
    """Decode one frame (the bytes between delimiters, without them) or raise FrameError."""
    try:
        data = cobs_decode(raw)
    except ValueError as e:
        raise FrameError(str(e)) from None
    if len(data) < spec.HEADER_SIZE + spec.CRC_SIZE:
        raise FrameError(f"frame of {len(data)} bytes is shorter than header + CRC")
    body, (crc,) = data[:-spec.CRC_SIZE], struct.unpack("<I", data[-spec.CRC_SIZE:])
    if crc32(body) != crc:
        raise FrameError("CRC mismatch")
    version, ftype, request_id, session, length = struct.unpack_from(spec.HEADER_FORMAT, body)
    payload = body[spec.HEADER_SIZE:]
    if length != len(payload):
        raise FrameError(f"length field {length} but {len(payload)} payload bytes")
    return Frame(version, ftype, request_id, payload, session)


class FrameReader:
    """Collects bytes and returns the valid frames among them. Anything between delimiters that does not
    decode is counted in `garbage_chunks` and dropped; an over-long run without a delimiter is dropped too,
    so one burst of noise costs at most one frame."""

    def __init__(self):
        self._buf = bytearray()
        self._overflow = False
        self.garbage_chunks = 0
        self.bytes_seen = 0

    def feed(self, data):
        frames = []
        self.bytes_seen += len(data)
        for byte in data:
            if byte != 0:
                if len(self._buf) < spec.MAX_ENCODED_FRAME:
                    self._buf.append(byte)
                else:
                    self._overflow = True
                continue
            raw, overflow = bytes(self._buf), self._overflow
            self._buf.clear()
            self._overflow = False
            if not raw:
                continue
            if overflow:
                self.garbage_chunks += 1
                continue
            try:
                frames.append(decode_frame(raw))
            except FrameError:
                self.garbage_chunks += 1
        return frames
