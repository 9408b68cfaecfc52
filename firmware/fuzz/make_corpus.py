"""Write the seed corpus of the protocol fuzz target (firmware/fuzz/corpus/): one file per seed, in the record
format fuzz_protocol.c reads (op | u16 length | bytes). Run from a clone after a protocol change:

    python firmware/fuzz/make_corpus.py

Seeds are built from host/link (spec.py, framing.py), so they speak the current protocol version; they assume
the default model's shape (6 inputs), which the fuzzer mutates away from anyway.
"""

import struct
from pathlib import Path

from tinyrnn.host.link import spec
from tinyrnn.host.link.framing import encode_frame

CMD = spec.COMMANDS
OUT = Path(__file__).resolve().parent / "corpus"
SESSION = 0x1234
D = 6


def raw(data):                      # op 0: bytes fed as they are
    return struct.pack("<BH", 0, len(data)) + data


def framed(ftype, payload=b"", current_session=True):   # op 1 (+4: the board's session)
    body = bytes([ftype]) + struct.pack("<H", SESSION) + payload
    return struct.pack("<BH", 5 if current_session else 1, len(body)) + body


def hello():
    return framed(CMD["HELLO"], current_session=False)


def sequence(n, flags):
    x = bytes(range(2 * D * n)) if 2 * D * n < 256 else bytes(2 * D * n)
    return framed(CMD["SEQUENCE"], struct.pack(spec.SEQUENCE_FORMAT, flags, 0, n) + x)


def seeds():
    wire = encode_frame(CMD["HELLO"], 7, session=SESSION)
    damaged = bytearray(wire)
    damaged[3] ^= 0x10
    per_step, reset_first = spec.SEQUENCE_FLAGS["PER_STEP"], spec.SEQUENCE_FLAGS["RESET_FIRST"]
    return {
        "hello_raw": raw(b"\x00" + wire),
        "hello_then_stats": hello() + framed(CMD["STATS"]),
        "step": hello() + framed(CMD["STEP"], bytes(2 * D)),
        "sequence_per_step": hello() + sequence(3, per_step | reset_first),
        "sequence_final": hello() + sequence(20, reset_first) + sequence(2, 0),
        "reset_and_repeat": hello() + framed(CMD["RESET"])
        + raw(b"\x00" + encode_frame(CMD["RESET"], 9, session=SESSION)) * 2,
        "no_session": framed(CMD["STEP"], bytes(2 * D), current_session=False),
        "damaged_crc": raw(bytes(damaged)),
        "too_long": raw(b"\x01" * (spec.MAX_ENCODED_FRAME + 5) + b"\x00"),
        "lone_delimiters": raw(b"\x00\x00\x00\x02\x00"),
        "unknown_command": hello() + framed(0x7E, b"abc"),
        "hello_with_hash": hello() + framed(CMD["HELLO"], b"0123456789abcdef"),
    }


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (OUT / name).write_bytes(data)
    print(f"{len(seeds())} seeds in {OUT}")
