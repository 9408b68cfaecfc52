"""Damaged or extreme inputs to the loaders are one line (or a named warning), and leave nothing running:
a corrupt model.json given to flash, a truncated kernel.bin, a single 1e30 in a CSV."""

import os
import subprocess
import sys

import pytest

from synthetic import make_sequences, write_csv
from tinyrnn.quantize.errors import TinyRNNError
from tinyrnn.host.training import data as D
from tinyrnn.quantize.emit.export import export
from tinyrnn.quantize.reference.synthetic import make_artifact
from tinyrnn.quantize.twin.params import KernelParams, UnsupportedModel

pytestmark = pytest.mark.toolchain


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = make_artifact(tmp_path_factory.mktemp("loaders") / "model", units=8, n=2, steps=4)
    export(path, progress=False)
    return path


@pytest.mark.parametrize("content", ["null", "{", "[1]", '{"model_hash": 5}', '{"model_hash": "zz"}'])
def test_flash_with_a_corrupt_model_json_is_one_line_and_starts_nothing(artifact, tmp_path, content):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in artifact.iterdir():
        if f.is_file():
            (bad / f.name).write_bytes(f.read_bytes())
    (bad / "model.json").write_text(content)
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "tinyrnn.host.cli", "flash", "--board", "qemu-mps2-an386",
                           "--model", str(bad)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TINYRNN_RUN_DIR": str(run_dir)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "model.json" in lines[0], proc.stderr
    assert not run_dir.exists() or not list(run_dir.glob("*.json"))     # no emulator was started


def test_a_truncated_or_altered_kernel_bin_is_refused(artifact, tmp_path):
    assert KernelParams.check_kernel_bin(artifact) == artifact / "kernel.bin"
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("kernel.bin", "kernel.json"):
        (copy / name).write_bytes((artifact / name).read_bytes())
    data = (artifact / "kernel.bin").read_bytes()
    (copy / "kernel.bin").write_bytes(data[:-7])
    with pytest.raises(UnsupportedModel, match="truncated or altered"):
        KernelParams.check_kernel_bin(copy)
    from tinyrnn.host.device.micropython import unix_port as micropython
    with pytest.raises(TinyRNNError, match="truncated or altered"):
        micropython.start(copy)
    (copy / "kernel.bin").write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(UnsupportedModel, match="truncated or altered"):
        KernelParams.check_kernel_bin(copy)


def test_a_single_huge_value_in_a_csv_is_named(tmp_path):
    seqs, labels = make_sequences(n=30, length=20, channels=3)
    seqs[5][7, 2] = 1e30
    ds = D.load_dataset(None, str(write_csv(tmp_path / "d.csv", seqs, labels)), test_fraction=0.2)
    mean, std = D.channel_norm(ds.train)
    if not any((s[:, 2] > 1e29).any() for s in ds.train.sequences):
        pytest.skip("the split put the value in the test set")
    (warning,) = D.flattened_channels(ds.train, mean, std)
    assert warning.startswith("channel 2: 1 extreme value(s) (1e+30)") and "useless" in warning
    seqs[5][7, 2] = 0.5
    clean = D.load_dataset(None, str(write_csv(tmp_path / "c.csv", seqs, labels)), test_fraction=0.2)
    assert D.flattened_channels(clean.train, *D.channel_norm(clean.train)) == []
