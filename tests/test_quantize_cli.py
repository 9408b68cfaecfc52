"""`tinyrnn bench` and `tinyrnn export --tables`: a bad argument is one `error: ...` line on stderr and exit 2,
never a traceback."""

import pytest

from tinyrnn.host.cli import main as tinyrnn
from tinyrnn.quantize.emit import micropython

pytestmark = pytest.mark.fast


def one_line_error(capsys, call, *words):
    with pytest.raises(SystemExit) as exc:
        code = call()
        raise SystemExit(code)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("argv, words", [
    (["--sizes", "12y32"], ["--sizes", "12y32"]),
    (["--sizes", "12x32,0x4"], ["0x4"]),
    (["--targets", "m9"], ["--targets", "m9", "m4"]),
    (["--cells", "gru,rnn"], ["rnn", "lstm"]),
    (["--steps", "0"], ["--steps"]),
    (["--steps", "two"], ["--steps"]),
])
def test_bench_bad_arguments(capsys, argv, words):
    one_line_error(capsys, lambda: tinyrnn(["bench", *argv]), *words)


@pytest.mark.parametrize("out", ["/proc/x/tables.bin", "/proc/tinyrnn-x"])
def test_micropython_tables_unwritable_path(capsys, out):
    one_line_error(capsys, lambda: tinyrnn(["export", "--tables", out]), "cannot write", out)


def test_micropython_tables_written(tmp_path, capsys):
    assert tinyrnn(["export", "--tables", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "tables.bin").read_bytes() == micropython.tables_bytes()
