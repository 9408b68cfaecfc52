"""Fuzzing, short runs for CI (the long runs and their figures: firmware/fuzz/README.md).

- The firmware's frame decoder + dispatcher (firmware/app/protocol.c, commands.c), with and without the kernel
  and a model, under libFuzzer + ASan + UBSan (clang 14), a few seconds each from the committed corpus.
- The host's decoder and reply parsing (host/link/framing.py, client.py) under hypothesis: whatever bytes or
  CRC-valid frames a board sends back, the client returns a well-formed result or raises a TinyRNNError (one
  line for the user), never another exception.
"""

import resource
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.host.link import spec
from tinyrnn.host.link.client import Client
from tinyrnn.host.link.framing import FrameReader, decode_frame, encode_frame, FrameError
from tinyrnn.quantize.reference.synthetic import make_artifact

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parents[1]
FUZZ_DIR = ROOT / "firmware" / "fuzz"
CLANG = shutil.which("clang-14")
SECONDS = 3
FUZZ_MEMORY_MB = 2048      # libFuzzer's default RSS limit


def _make(tmp_path, *targets):
    out = tmp_path / "out"
    subprocess.run(["make", "-s", "-C", str(FUZZ_DIR), f"OUT={out}", *targets], check=True, capture_output=True)
    return out


def _rss_limit_mb():
    """libFuzzer's RSS limit (default 2,048 MB) above what the fuzzer inherits: Linux carries a process's peak RSS
    (getrusage ru_maxrss, which libFuzzer checks) over fork and exec, so a fuzzer started by a test process that once
    held TensorFlow and PyTorch (2.2 GB: a test worker that ran the import tests first) was "out of memory" from its
    first input. The fuzzer keeps its own 2,048 MB on top, and -malloc_limit_mb still catches one huge allocation."""
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024      # KiB on Linux
    return inherited + FUZZ_MEMORY_MB


def _fuzz(binary, tmp_path):
    """A short run from the committed corpus (new inputs go to a scratch corpus, first on the command line)."""
    scratch = tmp_path / "corpus"
    scratch.mkdir()
    proc = subprocess.run([str(binary), f"-max_total_time={SECONDS}", "-max_len=4096", "-print_final_stats=1",
                           f"-rss_limit_mb={_rss_limit_mb()}", f"-malloc_limit_mb={FUZZ_MEMORY_MB}",
                           f"-artifact_prefix={tmp_path}/",       # a crashing input: here, not in the checkout
                           str(scratch), str(FUZZ_DIR / "corpus")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = int(next(line for line in proc.stderr.splitlines() if "number_of_executed_units" in line).split()[-1])
    assert runs > 1000, proc.stderr[-2000:]


@pytest.mark.skipif(CLANG is None, reason="needs clang-14 and libclang-rt-14-dev (make toolchain)")
def test_libfuzzer_decoder_and_dispatcher(tmp_path):
    _fuzz(_make(tmp_path, "decoder") / "fuzz_decoder", tmp_path)


@pytest.mark.skipif(CLANG is None, reason="needs clang-14 and libclang-rt-14-dev (make toolchain)")
def test_libfuzzer_with_the_kernel(tmp_path):
    from tinyrnn.host.device.firmware import ensure_exported
    model = make_artifact(tmp_path / "model", units=16, n=2, steps=8)
    ensure_exported(model)
    _fuzz(_make(tmp_path, "model", f"MODEL={model}") / "fuzz_model", tmp_path)


def test_corpus_is_what_make_corpus_writes():
    """The committed seeds speak the current protocol (rerun firmware/fuzz/make_corpus.py after a change)."""
    import importlib.util
    spec_ = importlib.util.spec_from_file_location("make_corpus", FUZZ_DIR / "make_corpus.py")
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    for name, data in module.seeds().items():
        assert (FUZZ_DIR / "corpus" / name).read_bytes() == data, f"stale seed {name}: run make_corpus.py"


# --- the host side -----------------------------------------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=3000))
def test_frame_reader_takes_any_bytes(data):
    reader = FrameReader()
    for frame in reader.feed(data):
        assert frame.version == spec.PROTOCOL_VERSION or frame.version >= 0
    try:
        decode_frame(data)
    except FrameError:
        pass


class ScriptedBoard:
    """A transport whose board answers each request with the next scripted reply: raw bytes, or
    (type, payload) sent as a CRC-valid frame with the request's id and session (type None: the right one)."""

    url = "scripted://"
    baud = 0

    def __init__(self, replies):
        self.replies = list(replies)
        self.inbox = b""

    def write(self, data):
        frames = FrameReader().feed(data)
        if not frames or not self.replies:
            return
        req, reply = frames[-1], self.replies.pop(0)
        if isinstance(reply, bytes):
            self.inbox += reply
        else:
            ftype, payload = reply
            ftype = req.type | spec.REPLY_FLAG if ftype is None else ftype
            self.inbox += encode_frame(ftype, req.request_id, payload[:spec.MAX_PAYLOAD], session=req.session)

    def read_some(self):
        data, self.inbox = self.inbox, b""
        return data

    def close(self):
        pass


def _info(d=6, k=4, per_step=50, final=85):
    values = dict(protocol_version=spec.PROTOCOL_VERSION, cell_id=0, head_id=0, counter_unit=1,
                  cpu_clock_hz=25_000_000, counter_hz=25_000_000, input_dim=d, output_dim=k, units=32, layers=1,
                  input_frac_bits=11, max_payload=spec.MAX_PAYLOAD, seq_max_steps_per_step=per_step,
                  seq_max_steps_final=final, state_words=32, scratch_words=96, model_hash=b"0123456789abcdef",
                  kernel_path=b"c", board_name=b"scripted")
    return struct.pack(spec.INFO_FORMAT, *(values[name] for name, _ in spec.INFO_FIELDS))


replies = st.one_of(
    st.binary(max_size=200),
    st.tuples(st.one_of(st.none(), st.integers(0, 255)), st.binary(max_size=600)),
    st.tuples(st.none(), st.sampled_from([_info(), _info(per_step=0), _info(d=0), _info(k=300)])),
    st.tuples(st.just(spec.ERROR), st.builds(lambda c, t, d, x: struct.pack(spec.ERROR_FORMAT, c, t, d) + x,
                                             st.integers(0, 255), st.integers(0, 255), st.integers(0, 65535),
                                             st.binary(max_size=20))),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(replies, min_size=1, max_size=6))
def test_the_client_turns_any_reply_into_a_result_or_one_error(script):
    client = Client(ScriptedBoard(script), timeout=0.01, retries=1, reruns=1, reconnect=None)
    try:
        info = client.hello()
        stats = client.board_stats()
        assert stats.rx_ring_size >= 0
        result = client.sequence(np.zeros((3, info.input_dim), dtype=np.int16))
        assert result.outputs.shape == (3, info.output_dim)
    except TinyRNNError as e:
        assert "\n" not in e.one_line()
