"""The one reader of the documented sequence files (host/formats/sequences.py): what it returns, and that it
checks the format, not a caller's policy. numpy and the standard library only; fast."""

import numpy as np
import pytest

from tinyrnn.host.formats.sequences import read_sequence_file
from tinyrnn.quantize.errors import UserError

pytestmark = pytest.mark.fast


def test_csv_keeps_file_order_texts_splits_and_groups(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("sequence_id,label,split,subject,a,b\n"
                    "s1,7,test,p1,1,2\ns0,x,train,p2,3,4\ns1,7,test,p1,5,6\n\ns2,,train,p1,7,8\n")
    f = read_sequence_file(path, group_column="subject")
    assert f.kind == "csv" and f.ids == ["s1", "s0", "s2"] and f.channels == ["a", "b"]
    assert f.labels == ["7", "x", ""]                   # cell text: typing and empty labels are the caller's
    assert f.splits == ["test", "train", "train"] and f.groups == ["p1", "p2", "p1"]
    assert f.indices("train") == [1, 2] and f.indices("test") == [0]
    np.testing.assert_array_equal(f.sequences[0], np.array([[1, 2], [5, 6]], np.float32))
    assert f.sequences[0].dtype == np.float32


def test_csv_without_label_or_split(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("sequence_id,a\nq,1\nq,2\n")
    f = read_sequence_file(path)
    assert f.labels is None and f.labelled == frozenset() and f.splits is None and f.groups is None
    assert f.indices("train") == [0] and f.indices("test") == []


def test_npz_parts_in_order_with_their_labels(tmp_path):
    path = tmp_path / "r.npz"
    x = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    np.savez(path, x=x, lengths=np.array([4, 2, 1]), y=np.array([0, 1, 0]), x_test=x[:1], groups=np.array([5, 5, 6]))
    f = read_sequence_file(path)
    assert f.ids == ["x[0]", "x[1]", "x[2]", "x_test[0]"] and [len(s) for s in f.sequences] == [4, 2, 1, 4]
    assert f.labels == [0, 1, 0, None] and f.labelled == frozenset({"train"})
    assert f.splits == ["train", "train", "train", "test"] and f.groups == [5, 5, 6, None]
    assert f.columns == ["groups", "lengths", "x", "x_test", "y"]


@pytest.mark.parametrize("text, words", [
    ("sequence_id,label,a\ns,x,1\ns,y,2\n", ["line 3", "different labels"]),
    ("sequence_id,split,a\ns,train,1\ns,test,2\n", ["both splits"]),
    ("sequence_id,split,a\ns,val,1\n", ["'split'", "val"]),
    ("sequence_id,a\ns,inf\n", ["line 2", "NaN or inf"]),
    ("sequence_id,a\ns,1\ns,nan\n", ["line 3", "NaN or inf", "channel a"]),
    ("sequence_id,a,b\ns,1,-1e300\n", ["line 2", "-1e300", "channel b", "beyond float32's range"]),
    ("sequence_id,a\ns,1_0\n", ["line 2", "'1_0' is not a number"]),
    ("sequence_id,a,b\ns,1\n", ["line 2", "channel b"]),
    ("sequence_id,a\ns,1,2\n", ["line 2 has 3 cells"]),
    ("sequence_id,a\n", ["no data rows"]),
])
def test_csv_format_errors_name_the_place(tmp_path, text, words):
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(UserError) as e:
        read_sequence_file(path)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_npz_label_count_and_unknown_extension(tmp_path):
    np.savez(tmp_path / "r.npz", x=np.ones((3, 2, 1)), y=np.arange(2))
    with pytest.raises(UserError, match="'y' has 2 labels for 3 sequences"):
        read_sequence_file(tmp_path / "r.npz")
    with pytest.raises(UserError, match="has the extension '.txt'"):
        read_sequence_file(tmp_path / "r.txt")


def test_npz_values_beyond_float32_are_refused_not_made_inf(tmp_path, recwarn):
    x = np.ones((2, 3, 1))
    x[1, 2, 0] = 1e300
    np.savez(tmp_path / "r.npz", x=x)
    with pytest.raises(UserError, match=r"'x\[1\]' holds NaN or inf at step 2, channel 0 \(0-based; or a value "
                                         r"beyond float32's range"):
        read_sequence_file(tmp_path / "r.npz")
    assert not [w for w in recwarn if "overflow" in str(w.message)]


@pytest.mark.parametrize("content", ["pickle", "npy", "garbage"])
def test_an_npz_that_is_not_a_zip_of_arrays_is_one_line_and_never_unpickled(tmp_path, content):
    import pickle
    path = tmp_path / "r.npz"
    if content == "pickle":
        path.write_bytes(pickle.dumps([1, 2, 3]))
    elif content == "npy":
        np.save(tmp_path / "a.npy", np.ones((2, 3, 1)))
        (tmp_path / "a.npy").rename(path)
    else:
        path.write_bytes(bytes(range(256)) * 2)
    with pytest.raises(UserError, match="cannot read .* as NPZ \\(not a zip archive"):
        read_sequence_file(path)
