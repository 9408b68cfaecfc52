"""Loading, checking and preparing data (no TensorFlow needed, fast)."""

import numpy as np
import pytest

from tinyrnn.host.training import data as D
from tinyrnn.quantize.errors import UserError
from synthetic import make_sequences, regression_targets, write_csv, write_npz

pytestmark = pytest.mark.fast


def test_csv_round_trip_keeps_sequences_and_labels(tmp_path):
    seqs, labels = make_sequences(n=20, variable=True)
    ds = D.load_dataset(None, str(write_csv(tmp_path / "d.csv", seqs, labels)), seed=1)
    assert ds.name == "file:d.csv" and ds.task == D.CLASSIFICATION
    assert ds.classes == ["0", "1", "2"]
    assert len(ds.train) + len(ds.test) == 20
    got = {len(s) for s in ds.train.sequences + ds.test.sequences}
    assert got == {len(s) for s in seqs}
    # The values survive the text round trip.
    first = ds.train.sequences[0]
    assert any(len(s) == len(first) and np.allclose(s, first, atol=1e-6) for s in seqs)


def test_csv_split_column_is_used(tmp_path):
    seqs, labels = make_sequences(n=12)
    splits = ["test" if i % 4 == 0 else "train" for i in range(12)]
    ds = D.load_dataset(None, str(write_csv(tmp_path / "d.csv", seqs, labels, splits)))
    assert (len(ds.train), len(ds.test)) == (9, 3)


@pytest.mark.parametrize("padded", [True, False])
def test_npz_padded_and_object_arrays(tmp_path, padded):
    seqs, labels = make_sequences(n=30, variable=True)
    test = make_sequences(n=9, variable=True, seed=5)
    path = write_npz(tmp_path / "d.npz", seqs, labels, padded=padded, test=test)
    ds = D.load_dataset(None, str(path))
    assert len(ds.train) == 30 and len(ds.test) == 9  # the file's own test split, no random split
    assert [len(s) for s in ds.train.sequences] == [len(s) for s in seqs]
    np.testing.assert_array_equal(ds.train.sequences[3], seqs[3])


def test_string_labels_classify_and_float_targets_regress(tmp_path):
    seqs, labels = make_sequences(n=20)
    names = np.array(["walk", "run", "sit"])[labels]
    ds = D.load_dataset(None, str(write_npz(tmp_path / "a.npz", seqs, names)))
    assert ds.task == D.CLASSIFICATION and ds.classes == ["run", "sit", "walk"]
    ds = D.load_dataset(None, str(write_npz(tmp_path / "b.npz", seqs, regression_targets(seqs))))
    assert ds.task == D.REGRESSION and ds.output_dim == 1 and ds.train.targets.shape[1] == 1
    forced = D.load_dataset(None, str(write_npz(tmp_path / "c.npz", seqs, labels)), task=D.REGRESSION)
    assert forced.task == D.REGRESSION


def test_numeric_class_names_sort_numerically():
    classes, y_tr, _ = D.encode_labels(np.array([10, 2, 1, 2]), np.array([1]))
    assert classes == ["1", "2", "10"]
    assert list(y_tr) == [2, 1, 0, 1]


def test_auto_split_is_stratified_and_seeded():
    seqs, labels = make_sequences(n=40, classes=4)
    a = D.split_train_test(seqs, labels, 0.25, seed=3, stratify=True)
    b = D.split_train_test(seqs, labels, 0.25, seed=3, stratify=True)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[3], b[3])
    counts = np.bincount(a[3], minlength=4)
    assert counts.sum() == 10 and counts.max() - counts.min() <= 1      # stratified: 2.5 per class, rounded
    assert set(a[1]) == {0, 1, 2, 3}


def test_downsample_averages_blocks_and_keeps_the_tail():
    seq = np.arange(10, dtype=np.float32)[:, None]
    out = D.downsample(seq, 4)
    np.testing.assert_allclose(out[:, 0], [1.5, 5.5, 8.5])


def test_max_len_truncates(tmp_path):
    seqs, labels = make_sequences(n=20, length=30)
    ds = D.load_dataset(None, str(write_npz(tmp_path / "d.npz", seqs, labels)), max_len=7, downsample_factor=2)
    assert ds.max_len == 7
    assert len(ds.notes) == 2


def test_norm_uses_real_frames_only_and_survives_constant_channels():
    split = D.Split([np.array([[1.0, 5.0], [3.0, 5.0]], np.float32), np.array([[2.0, 5.0]], np.float32)],
                    np.array([0, 1]))
    mean, std = D.channel_norm(split)
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [np.sqrt(2 / 3), 1.0], rtol=1e-6)


def test_pad_and_normalise_put_the_pad_value_only_past_each_length():
    seqs = [np.ones((3, 2), np.float32), np.ones((1, 2), np.float32) * 3]
    x = D.pad(seqs, 4)
    lengths = np.array([3, 1])
    n = D.normalise_padded(x, lengths, np.array([1.0, 1.0]), np.array([2.0, 2.0]), pad_value=-7.0)
    assert n.shape == (2, 4, 2)
    np.testing.assert_array_equal(n[0, :3], 0.0)  # a real frame normalising to exactly 0 stays 0 ...
    np.testing.assert_array_equal(n[0, 3], -7.0)  # ... and only padding gets the pad value
    np.testing.assert_array_equal(n[1, 0], 1.0)
    np.testing.assert_array_equal(n[1, 1:], -7.0)


def test_japanese_vowels_is_variable_length():
    ds = D.load_dataset("japanese_vowels", None)
    assert ds.input_dim == 12 and len(ds.classes) == 9
    assert (len(ds.train), len(ds.test)) == (270, 370)
    lengths = np.concatenate([ds.train.lengths, ds.test.lengths])
    assert lengths.min() >= 7 and lengths.max() <= 29 and lengths.min() < lengths.max()


def test_basic_motions_shapes():
    ds = D.load_dataset("basic_motions", None)
    assert (len(ds.train), len(ds.test), ds.input_dim, ds.max_len) == (40, 40, 6, 100)
    assert ds.classes == ["badminton", "running", "standing", "walking"]


@pytest.mark.parametrize("bad", [
    lambda s: [s[0][:0]] + s[1:],  # an empty sequence
    lambda s: [s[0] * np.nan] + s[1:],  # NaN
    lambda s: [s[0][:, :2]] + s[1:],  # channel mismatch
])
def test_check_sequences_rejects_bad_sequences(bad):
    seqs, labels = make_sequences(n=6)
    with pytest.raises(UserError):
        D.check_sequences(bad(seqs), labels, "training")


def test_group_column_holds_out_whole_subjects(tmp_path):
    """Wearable data: no subject may be in both splits (--group-column / NPZ 'groups')."""
    import pandas as pd
    seqs, labels = make_sequences(n=40, classes=2)
    path = write_csv(tmp_path / "g.csv", seqs, labels)
    df = pd.read_csv(path)
    df.insert(2, "subject", df["sequence_id"].map(lambda s: f"p{int(str(s).lstrip('s')) % 8}"))
    df.to_csv(path, index=False)
    ds = D.load_dataset(None, str(path), group_column="subject", test_fraction=0.25, seed=0)
    assert ds.input_dim == seqs[0].shape[1]                  # the group column is not a channel
    assert any("held out whole" in note for note in ds.notes)
    by_data = {s.tobytes(): f"p{i % 8}" for i, s in enumerate(seqs)}
    train = {by_data[s.tobytes()] for s in ds.train.sequences}
    test = {by_data[s.tobytes()] for s in ds.test.sequences}
    assert test and train and not train & test
    with pytest.raises(D.UserError, match="no column 'visit'"):
        D.load_dataset(None, str(path), group_column="visit")


def test_the_channel_columns_are_named_and_can_be_chosen(tmp_path):
    seqs, labels = make_sequences(n=12)
    path = str(write_csv(tmp_path / "d.csv", seqs, labels))
    assert D.load_dataset(None, path, seed=1).channels == [f"ch{c}" for c in range(seqs[0].shape[1])]
    chosen = D.load_dataset(None, path, seed=1, channels=["ch2", "ch0"])
    assert chosen.channels == ["ch2", "ch0"] and chosen.input_dim == 2
    everything = D.load_dataset(None, path, seed=1)
    assert np.array_equal(chosen.train.sequences[0], everything.train.sequences[0][:, [2, 0]])
    with pytest.raises(UserError, match=r"--channels ch0,subject: no column subject .* ch0, ch1"):
        D.load_dataset(None, path, channels=["ch0", "subject"])
    npz = str(write_npz(tmp_path / "d.npz", seqs, labels))
    assert D.load_dataset(None, npz).channels is None
    with pytest.raises(UserError, match="--channels names CSV columns"):
        D.load_dataset(None, npz, channels=["ch0"])


def test_unseen_test_labels_are_named_as_the_file_writes_them():
    with pytest.raises(UserError) as e:
        D.encode_labels(np.array(["1", "2", "1"]), np.array(["11", "2"]))
    assert "test labels '11' never occur" in str(e.value) and "np.str_" not in str(e.value), str(e.value)
