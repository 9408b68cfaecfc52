"""The serial protocol's constants and record layouts: the ONE source of truth.

`docs/protocol.md` explains them; `host/protocol.py` uses them directly; the firmware gets them through
`firmware/app/protocol_ids.h`, which this module generates:

    python -m host.protocol_spec > firmware/app/protocol_ids.h

`tests/test_protocol.py` regenerates the header and requires it to equal the committed file, so a constant
changed here and not regenerated fails the tests instead of silently splitting host and board.

Everything is little-endian and fixed-size, so a MicroPython client can use `struct` with the same formats.
"""

import struct
import sys

PROTOCOL_VERSION = 1

# Largest payload in one frame. Bounded so that a board with 16 KiB of RAM can hold one request and one
# reply; long sequences are sent as several SEQUENCE chunks (see docs/protocol.md).
MAX_PAYLOAD = 1024

# Frame header (inside the COBS encoding): version, type, request id, payload length.
HEADER_FORMAT = "<BBHH"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)        # 6
CRC_SIZE = 4                                          # CRC-32/ISO-HDLC (zlib.crc32) over header + payload
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE      # decoded frame, without COBS and the 0x00 delimiter
# COBS adds one byte per started block of 254 bytes, plus the leading code byte.
MAX_ENCODED_FRAME = MAX_FRAME + MAX_FRAME // 254 + 1

# Request types. A reply has the request's type with REPLY_FLAG set; an error reply has type ERROR.
COMMANDS = {
    "HELLO": 0x01,      # payload: nothing, or the expected 16-char model hash -> INFO record
    "RESET": 0x02,      # payload: nothing -> empty reply; recurrent state back to zero
    "STEP": 0x03,       # payload: int16[input_dim] -> u32 ticks, int32[output_dim]
    "SEQUENCE": 0x04,   # payload: SEQUENCE header + int16[n_steps][input_dim] -> see SEQUENCE_REPLY_FORMAT
}
REPLY_FLAG = 0x80
ERROR = 0xFF

ERRORS = {
    "BAD_CRC": 1,            # CRC-32 of the decoded frame does not match
    "BAD_FRAME": 2,          # COBS decoding failed, or shorter than header + CRC
    "BAD_LENGTH": 3,         # header's payload length differs from the frame's, or exceeds MAX_PAYLOAD
    "FRAME_TOO_LONG": 4,     # more than MAX_ENCODED_FRAME bytes before a delimiter (discarded)
    "BAD_VERSION": 5,        # protocol version is not PROTOCOL_VERSION (detail: the board's version)
    "UNKNOWN_COMMAND": 6,
    "BAD_PAYLOAD": 7,        # payload size wrong for the command (detail: the size expected)
    "HASH_MISMATCH": 8,      # HELLO carried a hash that is not the flashed model's (extra: the board's hash)
    "SEQUENCE_TOO_LONG": 9,  # n_steps over the limit for the chosen reply mode (detail: the limit)
    "NO_MODEL": 10,          # bring-up firmware built without a model: STEP/SEQUENCE unavailable
}
# Error reply payload: code, offending request type (0 if unknown), detail; then optional extra bytes.
ERROR_FORMAT = "<BBH"

# SEQUENCE request header, followed by int16[n_steps * input_dim] (step-major).
SEQUENCE_FORMAT = "<BBH"             # flags, reserved (0), n_steps
SEQUENCE_FLAGS = {
    "RESET_FIRST": 0x01,   # zero the state before the first step (else continue from the current state)
    "PER_STEP": 0x02,      # reply with every step's outputs and ticks (else only the final outputs)
}
# SEQUENCE reply header: flags (echoed), reserved, n_steps, total ticks (sum of the per-step ticks);
# then, with PER_STEP: u32 ticks[n_steps] and int32[n_steps][output_dim]; without: int32[output_dim].
SEQUENCE_REPLY_FORMAT = "<BBHI"
STEP_REPLY_FORMAT = "<I"              # ticks, then int32[output_dim]

# What the latency ticks count (INFO.counter_unit). On QEMU with -icount shift=0, SysTick on the CPU clock
# advances once per (1e9 / counter_hz) executed instructions: instructions, not cycles.
COUNTER_UNITS = {"cycles": 0, "instructions": 1}
NO_MODEL_CELL = 0xFF

# INFO record (HELLO reply), field by field: the firmware writes each at the offset generated from this.
INFO_FIELDS = [
    ("protocol_version", "B"),
    ("cell_id", "B"),            # 0 GRU reset_after, 1 GRU reset_before, 2 LSTM, 0xFF no model
    ("head_id", "B"),            # 0 softmax Q15 probabilities, 1 linear Q14
    ("counter_unit", "B"),       # COUNTER_UNITS
    ("cpu_clock_hz", "I"),
    ("counter_hz", "I"),         # latency ticks per second of the board's clock
    ("input_dim", "H"),
    ("output_dim", "H"),
    ("units", "H"),
    ("layers", "B"),
    ("input_frac_bits", "B"),
    ("max_payload", "H"),
    ("seq_max_steps_per_step", "H"),   # largest n_steps for a PER_STEP SEQUENCE
    ("seq_max_steps_final", "H"),      # largest n_steps for a final-only SEQUENCE
    ("state_words", "H"),
    ("scratch_words", "H"),
    ("model_hash", "16s"),       # 16 lowercase hex chars (ASCII)
    ("kernel_path", "4s"),       # "dsp" or "c", NUL padded
    ("board_name", "32s"),       # NUL padded
]
INFO_FORMAT = "<" + "".join(fmt for _, fmt in INFO_FIELDS)
INFO_SIZE = struct.calcsize(INFO_FORMAT)
HASH_LEN = 16


def info_offsets():
    """(name, offset, size) of every INFO field, in order."""
    out, offset = [], 0
    for name, fmt in INFO_FIELDS:
        size = struct.calcsize("<" + fmt)
        out.append((name, offset, size))
        offset += size
    return out


def c_header():
    """Text of firmware/app/protocol_ids.h."""
    lines = [
        "/* GENERATED by `python -m host.protocol_spec` from host/protocol_spec.py: do not edit. */",
        "/* The serial protocol's constants (docs/protocol.md). */",
        "#ifndef TINYRNN_PROTOCOL_IDS_H",
        "#define TINYRNN_PROTOCOL_IDS_H",
        "",
        f"#define PROTO_VERSION {PROTOCOL_VERSION}",
        f"#define PROTO_MAX_PAYLOAD {MAX_PAYLOAD}",
        f"#define PROTO_HEADER_SIZE {HEADER_SIZE}",
        f"#define PROTO_CRC_SIZE {CRC_SIZE}",
        f"#define PROTO_MAX_FRAME {MAX_FRAME}",
        f"#define PROTO_MAX_ENCODED_FRAME {MAX_ENCODED_FRAME}",
        f"#define PROTO_REPLY_FLAG 0x{REPLY_FLAG:02X}",
        f"#define PROTO_ERROR 0x{ERROR:02X}",
        f"#define PROTO_HASH_LEN {HASH_LEN}",
        f"#define PROTO_NO_MODEL_CELL 0x{NO_MODEL_CELL:02X}",
        "",
    ]
    lines += [f"#define PROTO_CMD_{name} 0x{code:02X}" for name, code in COMMANDS.items()]
    lines.append("")
    lines += [f"#define PROTO_ERR_{name} {code}" for name, code in ERRORS.items()]
    lines.append("")
    lines += [f"#define PROTO_SEQ_{name} 0x{bit:02X}" for name, bit in SEQUENCE_FLAGS.items()]
    lines += [
        f"#define PROTO_ERROR_SIZE {struct.calcsize(ERROR_FORMAT)}",
        f"#define PROTO_SEQUENCE_HEADER_SIZE {struct.calcsize(SEQUENCE_FORMAT)}",
        f"#define PROTO_SEQUENCE_REPLY_HEADER_SIZE {struct.calcsize(SEQUENCE_REPLY_FORMAT)}",
        f"#define PROTO_STEP_REPLY_HEADER_SIZE {struct.calcsize(STEP_REPLY_FORMAT)}",
        "",
    ]
    lines += [f"#define PROTO_COUNTER_{name.upper()} {code}" for name, code in COUNTER_UNITS.items()]
    lines.append("")
    lines.append("/* INFO record: byte offset and size of each field (little-endian). */")
    for name, offset, size in info_offsets():
        lines.append(f"#define PROTO_INFO_{name.upper()}_OFF {offset}")
        lines.append(f"#define PROTO_INFO_{name.upper()}_LEN {size}")
    lines.append(f"#define PROTO_INFO_SIZE {INFO_SIZE}")
    lines += ["", "#endif /* TINYRNN_PROTOCOL_IDS_H */", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(c_header())
