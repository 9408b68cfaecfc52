"""A board running tinyrnn firmware, over its serial port: handshake, bit-exactness against the twin,
fidelity against the float model, state semantics, STEP vs SEQUENCE, and recovery from bad frames."""

import json
import struct

import numpy as np
import pytest

from tinyrnn.host.link import spec
from tinyrnn.quantize.errors import HashMismatch
from tinyrnn.host.check.harness import THRESHOLDS, bit_exactness, check_thresholds, fidelity
from tinyrnn.host.link.framing import cobs_encode, crc32, encode_frame

ERR = spec.ERRORS


def quantized_sequence(board, index, steps=None):
    length = int(board.split["lengths"][index])
    x = board.split["x"][index, :length if steps is None else min(steps, length)]
    return board.twin.quantize_input(x)


def assert_still_works(board):
    """After an error the board must still answer correctly: a fresh handshake and a bit-exact sequence."""
    board.client.hello(board.twin.model_hash)
    x_q = quantized_sequence(board, 0, steps=5)
    assert np.array_equal(board.client.sequence(x_q).outputs, board.twin.run(x_q))


# --- handshake -------------------------------------------------------------------------------------------

def test_handshake_reports_board_and_model(board):
    info = board.client.hello(board.twin.model_hash)
    m = board.manifest
    assert info.protocol_version == spec.PROTOCOL_VERSION
    assert info.board_name
    assert info.model_hash == board.twin.model_hash
    assert (info.input_dim, info.output_dim, info.units, info.layers) == \
        (m["input_dim"], m["output_dim"], m["units"], m["layers"])
    assert info.cell == m["cell"] or (m["cell"] == "gru" and info.cell.startswith("gru"))
    assert info.kernel_path in ("dsp", "c", "m0", "m3", "rv32", "mpy")    # mpy: the MicroPython server
    assert info.unit in spec.COUNTER_UNITS
    # A wall-clock (microseconds) board may not know its CPU clock (the MicroPython unix port: 0).
    assert (info.cpu_clock_hz > 0 or info.unit == "microseconds") and info.seq_max_steps_per_step >= 1


def test_wrong_model_hash_is_refused_clearly(board):
    wrong = "0" * 16 if board.twin.model_hash != "0" * 16 else "f" * 16
    with pytest.raises(HashMismatch, match=board.twin.model_hash):
        board.client.hello(wrong)
    assert_still_works(board)


# --- correctness -----------------------------------------------------------------------------------------

def test_bit_exact_with_twin_on_test_split(split_run):
    result = bit_exactness(split_run)
    assert result["mismatched_values"] == 0, (
        f"{result['mismatched_values']} of {result['total_values']} outputs differ from the twin; "
        f"first: {result['first_mismatch']}")


def recorded_kernel_figures(board):
    """The kernel's figures the training run recorded in metrics.json (computed from the twin at export)."""
    path = board.model_dir / "metrics.json"
    recorded = json.loads(path.read_text()).get("kernel") if path.is_file() else None
    if not recorded:
        pytest.skip(f"{path} has no kernel figures (an artifact not made by python host/train.py)")
    return recorded


def test_fidelity_figures_match_the_training_report(board, split_run):
    # What the training run promised for the kernel is what the board delivers over the serial line: the
    # same test split, the same normalisation, the same figures (computed on another path: a batch twin run
    # at export time versus per-sequence board replies now).
    recorded = recorded_kernel_figures(board)
    figures = fidelity(split_run, board.twin, board.manifest, board.split)
    for key in ("accuracy", "rmse", "argmax_agreement", "final_max_abs", "final_mean_abs",
                "step_max_abs", "step_mean_abs"):
        if recorded.get(key) is not None:
            assert figures[key] == pytest.approx(recorded[key], rel=1e-9, abs=1e-12), key


def test_fidelity_against_float_model(board, split_run):
    figures = fidelity(split_run, board.twin, board.manifest, board.split)
    checks = check_thresholds(figures, board.manifest["task"])
    failed = {name: c for name, c in checks.items() if not c["passed"]}
    # The targets are the kernel's (quantize/reference/metrics.py): a failure is a fidelity problem to report, never a
    # limit to loosen. A target the training run already recorded as missed (metrics.json "kernel", the
    # kernel's known shortfall on this model, listed in the README) is an expected failure; any other is the
    # board's and fails.
    recorded = recorded_kernel_figures(board)
    known = {name for name in failed
             if not check_thresholds(dict(figures, **recorded), board.manifest["task"])[name]["passed"]}
    assert set(failed) == known, f"fidelity vs float outside {THRESHOLDS}: {failed}"
    if known:
        pytest.xfail("the kernel misses on the host too (metrics.json): " + ", ".join(
            f"{name} {failed[name]['value']:.4g} (target {failed[name]['op']} {failed[name]['limit']:g})"
            for name in sorted(known)))


def test_latency_is_reported(board, split_run):
    valid = np.arange(split_run["step_ticks"].shape[1])[None, :] < split_run["lengths"][:, None]
    ticks = split_run["step_ticks"][valid]
    assert (ticks > 0).all(), "a kernel step cannot take zero time"
    x_q = quantized_sequence(board, 1)
    result = board.client.sequence(x_q)
    assert result.total_ticks == int(result.step_ticks.sum())


# --- state semantics ---------------------------------------------------------------------------------------

def test_same_sequence_twice_gives_same_answers(board):
    x_q = quantized_sequence(board, 2)
    first = board.client.sequence(x_q, reset=True).outputs
    second = board.client.sequence(x_q, reset=True).outputs
    assert np.array_equal(first, second)
    assert np.array_equal(first, board.twin.run(x_q))


def test_state_carries_over_without_reset_and_clears_with_reset(board):
    a, b = quantized_sequence(board, 3, steps=20), quantized_sequence(board, 4, steps=20)
    board.client.sequence(a, reset=True)
    continued = board.client.sequence(b, reset=False).outputs
    assert np.array_equal(continued, board.twin.run(np.concatenate([a, b]))[len(a):])
    board.client.reset()                                 # the RESET command
    fresh = np.array([board.client.step(x)[0] for x in b])
    assert np.array_equal(fresh, board.twin.run(b))


def test_many_sequences_back_to_back(board):
    """Lengths around the per-request step limit, so chunked sequences are exercised too."""
    limit = board.info.seq_max_steps_per_step
    x_all = board.twin.quantize_input(board.split["x"].reshape(-1, board.split["x"].shape[-1]))
    if len(x_all) < 4 * limit:
        pytest.skip(f"the test split has {len(x_all)} steps, fewer than 4 x the per-request limit {limit}")
    offset = 0
    for length in (1, 2, 3, limit - 1, limit, limit + 1, 2 * limit + 3, 7, 1, 13):
        length = min(length, len(x_all) - offset)
        x_q = x_all[offset:offset + length]
        offset = (offset + length) % (len(x_all) - 3 * limit)
        assert np.array_equal(board.client.sequence(x_q).outputs, board.twin.run(x_q)), f"length {length}"


def test_step_and_sequence_agree(board):
    x_q = quantized_sequence(board, 5, steps=board.info.seq_max_steps_per_step + 10)
    per_step = board.client.sequence(x_q).outputs
    board.client.reset()
    stepped = np.array([board.client.step(x)[0] for x in x_q])
    final_only = board.client.sequence(x_q, per_step=False)
    assert np.array_equal(stepped, per_step)
    assert np.array_equal(final_only.outputs, per_step[-1])
    assert final_only.step_ticks is None and final_only.total_ticks > 0


# --- bad frames ----------------------------------------------------------------------------------------------

# Errors that only say the frame arrived damaged: from a noisy line they mean "our bad frame was damaged in turn",
# not "the board answered wrongly", unless that error is the one the test expects.
DAMAGE_ERRORS = {ERR["BAD_CRC"], ERR["BAD_FRAME"], ERR["BAD_LENGTH"], ERR["FRAME_TOO_LONG"]}
TRIES = 5


def raw_exchange(board, make, expected=None):
    """Send a deliberately bad frame (`make(board)` builds it, afresh per try); return the error code of the reply
    (None if a non-error frame came back). On a noisy line a try is repeated when its reply arrived damaged or not
    at all, or was a damage error other than `expected` (the line damaged the request): the board is judged only
    on an answer that reached us whole, so a damaged reply is never taken for a wrong one."""
    client = board.client
    for _ in range(TRIES):
        client.send_raw(b"\x00" + make(board))
        frame = client.read_frame(stop_on_garbage=True)
        if frame is not None:
            code = frame.payload[0] if frame.type == spec.ERROR else None
            if code == expected or code not in DAMAGE_ERRORS:
                return code
        while client.read_frame(timeout=0.2) is not None:
            pass                                     # the rest of a damaged exchange, before the next try
    pytest.fail(f"no undamaged answer to a bad frame in {TRIES} tries (the board is silent, or the line too noisy)")


def corrupted_crc(board):
    body = bytearray(struct.pack(spec.HEADER_FORMAT, spec.PROTOCOL_VERSION, spec.COMMANDS["HELLO"],
                                    board.client.new_id(), board.client.session, 0))
    crc = crc32(bytes(body)) ^ 0x00010000
    return cobs_encode(bytes(body) + struct.pack("<I", crc)) + b"\x00"


BAD_FRAMES = {
    "corrupted_crc": (corrupted_crc, ERR["BAD_CRC"]),
    "garbage_bytes": (lambda b: bytes([0x55, 0xAA, 0x13, 0x37, 0xFE]) + b"\x00", ERR["BAD_FRAME"]),
    "unknown_command": (lambda b: encode_frame(0x3C, b.client.new_id(), b"\x01\x02", session=b.client.session),
                        ERR["UNKNOWN_COMMAND"]),
    "oversize_length_field": (lambda b: encode_frame(spec.COMMANDS["STEP"], b.client.new_id(), b"\x00" * 12,
                                                     length=spec.MAX_PAYLOAD + 500, session=b.client.session),
                              ERR["BAD_LENGTH"]),
    "over_long_frame": (lambda b: b"\x01" * (spec.MAX_ENCODED_FRAME + 100) + b"\x00", ERR["FRAME_TOO_LONG"]),
    "wrong_version": (lambda b: encode_frame(spec.COMMANDS["HELLO"], b.client.new_id(), version=7),
                      ERR["BAD_VERSION"]),
    "step_wrong_size": (lambda b: encode_frame(spec.COMMANDS["STEP"], b.client.new_id(), b"\x01\x00\x02",
                                                      session=b.client.session),
                        ERR["BAD_PAYLOAD"]),
    "sequence_too_long": (lambda b: encode_frame(
        spec.COMMANDS["SEQUENCE"], b.client.new_id(),
        struct.pack(spec.SEQUENCE_FORMAT, spec.SEQUENCE_FLAGS["PER_STEP"], 0, b.info.seq_max_steps_per_step + 1),
        session=b.client.session),
        ERR["SEQUENCE_TOO_LONG"]),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_frame_gets_error_and_board_keeps_working(board, case):
    make, expected = BAD_FRAMES[case]
    code = raw_exchange(board, make, expected)
    names = {v: k for k, v in ERR.items()}
    assert code == expected, f"expected {names[expected]}, got {names.get(code, code)}"
    assert_still_works(board)


def test_garbage_in_the_middle_of_a_session(board):
    """Noise between requests costs nothing but an error reply: state and answers stay right."""
    x_q = quantized_sequence(board, 6, steps=8)
    board.client.reset()
    first = [board.client.step(x)[0] for x in x_q[:4]]
    raw_exchange(board, lambda b: b"\xde\xad\xbe\xef" * 10 + b"\x00", ERR["BAD_FRAME"])
    rest = [board.client.step(x)[0] for x in x_q[4:]]
    assert np.array_equal(np.array(first + rest), board.twin.run(x_q))


def test_the_stack_has_room_left(board, split_run):
    """After the test split and every bad frame above, the deepest the board's stack has been (its painted
    stack's high-water mark, STATS) leaves room in what it reserves. A board that does not measure its stack
    (the MicroPython server) says so with 0 for both, never a figure it did not measure."""
    stats = board.client.board_stats()
    if not stats.stack_size:
        assert stats.stack_used == 0, stats
        return
    assert 0 < stats.stack_used < stats.stack_size, stats
    print(f"stack: {stats.stack_used:,} of {stats.stack_size:,} B ever in use")


def test_the_heap_figures_are_measured_or_zero(board, split_run):
    """STATS' heap fields: the C firmware has no heap and says 0 for all three; a MicroPython server measures its
    heap (gc): the model's share and what is free both lie within the heap's capacity, and some is left."""
    stats = board.client.board_stats()
    figures = (stats.heap_model, stats.heap_free, stats.heap_size)
    if not stats.heap_size:
        assert figures == (0, 0, 0), stats
        return
    assert 0 < stats.heap_model < stats.heap_size and 0 < stats.heap_free < stats.heap_size, stats
    assert stats.heap_model + stats.heap_free <= stats.heap_size, stats
    print(f"heap: model {stats.heap_model:,} B, {stats.heap_free:,} B free of {stats.heap_size:,} B")
