"""Int8-grid fine-tuning: the shipped weights are exactly the kernel's int8 values."""
import numpy as np
import pytest

from tinyrnn.quantize.twin.quantizer import quantize_rows, snap_to_int8_grid

pytestmark = pytest.mark.tensorflow


def on_grid(matrix):
    """True when quantize_rows (what the kernel stores) reproduces `matrix` exactly, up to float32 rounding."""
    q, scale = quantize_rows(np.asarray(matrix, dtype=np.float64).T)
    return np.allclose((q * scale[:, None]).T, matrix, rtol=0, atol=1e-6 * np.abs(matrix).max())


def test_snap_is_idempotent_and_keeps_the_int8_values():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.3, (12, 40)).astype(np.float32)
    w[:, 3] = 0.0                                     # an all-zero unit stays zero
    snapped = snap_to_int8_grid(w).astype(np.float32)
    assert not on_grid(w) and on_grid(snapped)
    assert np.array_equal(quantize_rows(snapped.T)[0], quantize_rows(w.T)[0])
    assert np.array_equal(snap_to_int8_grid(snapped).astype(np.float32), snapped)
    assert np.abs(snapped - w).max() <= np.abs(w).max(axis=0).max() / 254 + 1e-7


@pytest.mark.parametrize("grid_epochs", [0, 2])
def test_trained_weights_are_on_the_grid_only_after_grid_fine_tuning(tmp_path, grid_epochs):
    from tinyrnn.host.cli import main as tinyrnn
    from tests.synthetic import make_sequences, write_npz

    data = write_npz(tmp_path / "data.npz", *make_sequences())
    out = tmp_path / "art"
    assert tinyrnn(["train", "--data", str(data), "--out", str(out), "--units", "8", "--epochs", "2",
                 "--grid-epochs", str(grid_epochs), "--calibration-samples", "50", "--quiet"]) == 0
    weights = np.load(out / "weights.npz")
    matrices = [k for k in weights.files if k.endswith(("_kernel", "_recurrent"))]
    assert {"layer0_kernel", "layer0_recurrent", "head_kernel"} <= set(matrices)
    assert all(on_grid(weights[k]) for k in matrices) == (grid_epochs > 0)
