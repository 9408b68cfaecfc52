"""The recorded signal that stands in for a sensor on emulated boards: the C header and the MicroPython module
hold exactly the artifact's raw test frames (float32 bit patterns compared), and the header compiles strict."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn.host.device.micropython.unix_port import MP_DIR, micropython_available
from tinyrnn.quantize.artifact import Artifact
from tinyrnn.quantize.emit.recorded_signal import RecordedSignal, c_header, micropython_module
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.reference.synthetic import make_artifact

pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="module")
def signal(tmp_path_factory):
    path = make_artifact(tmp_path_factory.mktemp("model") / "m", d=5, steps=12, n=6)
    return RecordedSignal.from_artifact(Artifact.open(path), sequences=4, rate_hz=50.0)


def test_frames_are_test_sequences_one_of_each_class_first(signal, tmp_path):
    artifact = Artifact.open(make_artifact(tmp_path / "m", d=5, steps=12, n=6))
    split, classes = artifact.test_split(), artifact.manifest.classes
    assert signal.starts[0] == 0 and len(signal.starts) == len(signal.labels) == 4
    assert list(signal.labels) == classes[:4]                   # round-robin: every class before a repeat
    bounds = list(signal.starts) + [len(signal.frames)]
    for k, label in enumerate(signal.labels):
        first = next(i for i, y in enumerate(split.y) if classes[int(np.asarray(y).reshape(-1)[0])] == label)
        expected = split.x[first, : split.lengths[first]].astype(np.float32)
        np.testing.assert_array_equal(signal.frames[bounds[k]:bounds[k + 1]], expected)
    assert signal.channels == tuple(f"ch{j}" for j in range(5))


def test_the_header_compiles_strict_and_holds_the_same_bits(signal, tmp_path):
    (tmp_path / "recorded_signal.h").write_text(c_header(signal))
    (tmp_path / "dump.c").write_text(
        '#include <stdio.h>\n#include <string.h>\n#include <stdint.h>\n#include "recorded_signal.h"\n'
        "int main(void) {\n  for (unsigned i = 0; i < RECORDED_SIGNAL_FRAMES; i++)\n"
        "    for (unsigned j = 0; j < RECORDED_SIGNAL_DIM; j++) {\n"
        "      uint32_t u; memcpy(&u, &recorded_signal_frames[i][j], 4); printf(\"%08x\\n\", (unsigned)u); }\n"
        "  printf(\"%u %s %s %g\\n\", recorded_signal_starts[1], recorded_signal_labels[0],\n"
        "         recorded_signal_channels[4], (double)RECORDED_SIGNAL_RATE_HZ);\n  return 0;\n}\n")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "dump"),
                    str(tmp_path / "dump.c")], check=True)
    lines = subprocess.run([str(tmp_path / "dump")], check=True, capture_output=True, text=True).stdout.splitlines()
    bits = [int(s, 16) for s in lines[:-1]]
    assert bits == signal.frames.astype(np.float32).reshape(-1).view(np.uint32).tolist()
    assert lines[-1] == f"{signal.starts[1]} {signal.labels[0]} ch4 50"


@pytest.mark.skipif(not micropython_available(), reason=f"no MicroPython unix port in {MP_DIR}")
def test_the_micropython_module_holds_the_same_bits(signal, tmp_path):
    (tmp_path / "recorded_signal.py").write_text(micropython_module(signal))
    (tmp_path / "dump.py").write_text(
        "import struct, recorded_signal as s\n"
        "for i in range(s.COUNT):\n"
        "    print(' '.join('%08x' % struct.unpack('<I', struct.pack('<f', v))[0] for v in s.frame(i)))\n"
        "print(s.frame(s.COUNT) == s.frame(0), s.RATE_HZ, s.STARTS[1])\n")
    out = subprocess.run([sys.executable, "-m", "micropython", "dump.py"], cwd=tmp_path, check=True,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(MP_DIR))).stdout
    lines = out.splitlines()
    bits = [int(s, 16) for line in lines[:-1] for s in line.split()]
    assert bits == signal.frames.astype(np.float32).reshape(-1).view(np.uint32).tolist()
    assert lines[-1] == f"True 50.0 {signal.starts[1]}"


def test_bad_requests_are_one_line(tmp_path):
    artifact = Artifact.open(make_artifact(tmp_path / "m"))
    with pytest.raises(UserError, match="1 or more"):
        RecordedSignal.from_artifact(artifact, sequences=0)
    with pytest.raises(UserError, match="positive"):
        RecordedSignal.from_artifact(artifact, rate_hz=0)
