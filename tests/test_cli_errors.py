"""Bad input gives one clear line on stderr and exit code 2, never a traceback.

Most cases call main() in-process (fast: they fail before TensorFlow is imported); two run the real
command line as a subprocess.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.host import cli
from synthetic import make_sequences, write_csv, write_npz

pytestmark = pytest.mark.fast


def main(argv):
    """`tinyrnn train ARGV`, in-process."""
    return cli.main(["train", *argv])

REPO = Path(__file__).resolve().parent.parent


def assert_one_line_error(code, stderr, *words):
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and " — " in lines[0]
    assert "Traceback" not in stderr
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])


def run_main(capsys, *argv):
    code = main([*argv, "--quiet"])
    return code, capsys.readouterr().err


def npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def good_arrays(n=12, length=5, channels=2):
    seqs, labels = make_sequences(n=n, length=length, channels=channels)
    return np.stack(seqs), labels


# --------------------------------------------------------------------------------------------
# Options


@pytest.mark.parametrize("argv,words", [
    (["--layers", "4"], ["--layers 4", "1 to 3"]),
    (["--layers", "0"], ["--layers 0"]),
    (["--units", "0"], ["--units 0"]),
    (["--units", "100000"], ["--units"]),
    (["--cell", "lstm", "--reset-after"], ["gru"]),
    (["--cell", "lstm", "--no-reset-after"], ["gru"]),
    (["--dataset", "basic_motions", "--data", "x.csv"], ["--dataset", "--data"]),
    (["--dataset", "mnist"], ["unknown data set", "basic_motions", "japanese_vowels", "plaid"]),
    (["--cell", "rnn"], ["--cell"]),
    (["--epochs", "many"], ["--epochs"]),
    (["--epochs", "0"], ["--epochs 0"]),
    (["--lr", "-1"], ["--lr"]),
    (["--test-fraction", "1.5"], ["--test-fraction"]),
    (["--downsample", "0"], ["--downsample"]),
    (["--bogus"], ["unrecognized"]),
])
def test_bad_options(capsys, argv, words):
    assert_one_line_error(*run_main(capsys, *argv), *words)


def test_existing_output_needs_force(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert_one_line_error(*run_main(capsys, "--out", str(out)), "already exists", "--force")


@pytest.mark.parametrize("where", ["/proc/x/y", "file/y"])
def test_unwritable_output_fails_before_training(capsys, tmp_path, monkeypatch, where):
    (tmp_path / "file").write_text("a file, not a directory")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tinyrnn.host.training.data.load_dataset",
                        lambda *a, **k: pytest.fail("loaded data before checking --out"))
    assert_one_line_error(*run_main(capsys, "--out", where), "cannot write", "--out")
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]       # nothing left behind


# --------------------------------------------------------------------------------------------
# Files


def test_missing_file(capsys, tmp_path):
    assert_one_line_error(*run_main(capsys, "--data", str(tmp_path / "nope.csv")), "does not exist")


def test_directory_instead_of_file(capsys, tmp_path):
    assert_one_line_error(*run_main(capsys, "--data", str(tmp_path)), "not a readable file")


def test_unknown_extension(capsys, tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("1,2,3\n")
    assert_one_line_error(*run_main(capsys, "--data", str(path)), "extension", ".csv")


def test_corrupt_npz(capsys, tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"not a zip file at all")
    assert_one_line_error(*run_main(capsys, "--data", str(path)), "cannot read")


def test_npz_without_y(capsys, tmp_path):
    x, _ = good_arrays()
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, x=x)), "no array 'y'")


@pytest.mark.parametrize("x,words", [
    (np.zeros((4, 3, 2, 2), np.float32), ["shape", "(n, length, channels)"]),
    (np.array([["a", "b"], ["c", "d"]]), ["dtype"]),
])
def test_wrong_x_shape_or_dtype(capsys, tmp_path, x, words):
    path = npz(tmp_path, x=x, y=np.arange(len(x)) % 2)
    assert_one_line_error(*run_main(capsys, "--data", path), *words)


def test_nan_and_inf(capsys, tmp_path):
    x, y = good_arrays()
    x[3, 2, 1] = np.nan
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, x=x, y=y)), "NaN or inf")
    x[3, 2, 1] = np.inf
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, "b.npz", x=x, y=y)), "NaN or inf")


def test_nan_in_regression_targets(capsys, tmp_path):
    x, _ = good_arrays()
    y = np.linspace(0, 1, len(x))
    y[2] = np.nan
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, x=x, y=y)), "NaN or inf")


def test_label_count_mismatch(capsys, tmp_path):
    x, y = good_arrays()
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, x=x, y=y[:-2])), "12 sequences", "10 labels")


def test_empty_training_data(capsys, tmp_path):
    path = npz(tmp_path, x=np.zeros((0, 5, 2), np.float32), y=np.zeros(0, np.int64))
    assert_one_line_error(*run_main(capsys, "--data", path), "no sequences")
    csv = tmp_path / "empty.csv"
    csv.write_text("sequence_id,label,ch0\n")
    assert_one_line_error(*run_main(capsys, "--data", str(csv)), "no data rows")


def test_single_class(capsys, tmp_path):
    x, _ = good_arrays()
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, x=x, y=np.zeros(len(x), int))),
                          "single class")


def test_zero_length_sequences(capsys, tmp_path):
    x, y = good_arrays()
    lengths = np.full(len(x), 5)
    lengths[4] = 0
    path = npz(tmp_path, x=x, y=y, lengths=lengths)
    assert_one_line_error(*run_main(capsys, "--data", path), "lengths", "at least 1 step")
    seqs = np.empty(3, dtype=object)
    seqs[:] = [np.ones((4, 2)), np.zeros((0, 2)), np.ones((3, 2))]
    assert_one_line_error(*run_main(capsys, "--data", npz(tmp_path, "o.npz", x=seqs, y=np.array([0, 1, 0]))),
                          "empty")


def test_channel_mismatch_between_sequences(capsys, tmp_path):
    seqs = np.empty(3, dtype=object)
    seqs[:] = [np.ones((4, 2)), np.ones((4, 3)), np.ones((3, 2))]
    path = npz(tmp_path, x=seqs, y=np.array([0, 1, 0]))
    assert_one_line_error(*run_main(capsys, "--data", path), "channels")


def test_csv_problems(capsys, tmp_path):
    seqs, labels = make_sequences(n=6, length=3, channels=2)
    good = write_csv(tmp_path / "good.csv", seqs, labels).read_text().splitlines()

    no_label = tmp_path / "a.csv"
    no_label.write_text("\n".join(line.split(",", 2)[0] + "," + line.split(",", 2)[2] for line in good) + "\n")
    assert_one_line_error(*run_main(capsys, "--data", str(no_label)), "no column label")

    mixed = tmp_path / "b.csv"
    rows = list(good)
    rows[2] = rows[2].replace("s0,0,", "s0,1,")  # second step of sequence s0 claims another label
    mixed.write_text("\n".join(rows) + "\n")
    assert_one_line_error(*run_main(capsys, "--data", str(mixed)), "s0", "different labels")

    text = tmp_path / "c.csv"
    rows = list(good)
    rows[1] = ",".join(rows[1].split(",")[:2] + ["high", "0.5"])
    text.write_text("\n".join(rows) + "\n")
    assert_one_line_error(*run_main(capsys, "--data", str(text)), "not numeric")


def test_regression_forced_on_text_labels(capsys, tmp_path):
    x, y = good_arrays()
    path = npz(tmp_path, x=x, y=np.array(["up", "down"])[y % 2])
    assert_one_line_error(*run_main(capsys, "--data", path, "--task", "regression"), "not numbers")


def test_test_split_with_unseen_class(capsys, tmp_path):
    seqs, labels = make_sequences(n=12, classes=2)
    test_seqs, _ = make_sequences(n=3, seed=3)
    path = write_npz(tmp_path / "d.npz", seqs, labels, test=(test_seqs, np.array([0, 1, 7])))
    assert_one_line_error(*run_main(capsys, "--data", str(path)), "never occur")


# --------------------------------------------------------------------------------------------
# The real command line


@pytest.mark.parametrize("argv,words", [
    (["--dataset", "nope"], ["unknown data set", "basic_motions"]),
    (["--data", "does/not/exist.csv"], ["does not exist"]),
])
def test_command_line_subprocess(tmp_path, argv, words):
    proc = subprocess.run([sys.executable, "host/train.py", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert_one_line_error(proc.returncode, proc.stderr, *words)
    assert "Traceback" not in proc.stdout


@pytest.mark.parametrize("text, words", [
    ("sequence_id;label;a\ns0;x;1\n", ["';'", "comma"]),
    ("sequence_id,label,a,b\ns0,x,1,2\ns0,x,oops,3\n", ["line 3", "oops"]),
    ("sequence_id,label,a,b\ns0,x,1,2\ns0,x,3\n", ["line 3", "channel b"]),
])
def test_csv_mistakes_name_the_line_or_the_separator(capsys, tmp_path, text, words):
    path = tmp_path / "d.csv"
    path.write_text(text)
    assert_one_line_error(*run_main(capsys, "--data", str(path)), *words)
