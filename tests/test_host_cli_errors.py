"""The board-side CLIs (flash, harness, demo, hwtest): a user's mistake is one line on stderr and exit 2, never a
traceback. Fast: everything fails before a build or an emulator would start."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyrnn.host import cli
from tinyrnn.quantize.reference.synthetic import make_artifact

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("models") / "synthetic", units=8, n=3, steps=6)


def run_cli(capsys, tool, *argv):
    try:
        code = cli.main([tool, *argv])
    except SystemExit as e:          # argparse's own exit
        code = e.code
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(code, stderr, *words):
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])


def copy_without(src, dst, *names):
    shutil.copytree(src, dst, ignore=lambda _d, files: [f for f in files if f in names])
    return dst


def test_flash_unknown_board(capsys):
    assert_one_line_error(*run_cli(capsys, "flash", "--board", "nope"), "nope", "qemu-mps2-an386")


@pytest.mark.parametrize("name", ["nope", "../x"])
def test_flash_stop_unknown_board(capsys, name):
    assert_one_line_error(*run_cli(capsys, "flash", "--stop", name), name, "unknown board")


def test_flash_to_a_micropython_board_on_a_missing_port(capsys, synthetic, tmp_path):
    """The raw REPL's port (a MicroPython board's) fails in one line with what to do, like the protocol's."""
    missing = tmp_path / "ttyACM9"
    assert_one_line_error(*run_cli(capsys, "flash", "--board", "micropython", "--port", str(missing), "--model",
                                   str(synthetic)), f"cannot open {missing}", "no such file", "/dev/ttyACM0")


@pytest.mark.skipif(not Path("/dev/ptmx").exists(), reason="needs ptys")
def test_a_raw_repl_port_that_goes_away_is_a_port_error():
    """A MicroPython board unplugged (an emulator killed) while the raw REPL talks to it: PortError, not pyserial's
    exceptions (termios.error from a flush is not even an OSError)."""
    import os

    from tinyrnn.host.link.transport import raw_port
    from tinyrnn.quantize.errors import PortError
    master, slave = os.openpty()
    path = os.ttyname(slave)
    with pytest.raises(PortError, match=f"{path} failed .*Input/output error") as failure:
        with raw_port(path) as port:
            os.close(master)
            os.close(slave)
            port.write(b"\x03")
            port.flush()
    assert "went away" in failure.value.fix


def test_flash_model_not_an_artifact(capsys):
    assert_one_line_error(*run_cli(capsys, "flash", "--model", "/nonexistent"), "/nonexistent", "model.json")


@pytest.mark.parametrize("port, cause", [("/dev/pts/999", "No such file or directory"),
                                         ("socket://127.0.0.1:1", "Connection refused"),
                                         (str(REPO / "pyproject.toml"), "not a serial port")])
def test_harness_port_that_cannot_be_opened(capsys, synthetic, port, cause):
    code, err = run_cli(capsys, "harness", "--port", port, "--model", str(synthetic), "--quiet")
    assert_one_line_error(code, err, port, " — check the port")     # what to do, not only what failed
    assert err.count(cause) == 1 and err.count(port) == 1, err       # the cause and port once, not pyserial's repeats


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_harness_limit_must_be_positive(capsys, synthetic, limit):
    assert_one_line_error(*run_cli(capsys, "harness", "--port", "loop://", "--model", str(synthetic),
                                   "--limit", limit), "--limit")


def test_harness_missing_test_split(capsys, synthetic, tmp_path):
    model = copy_without(synthetic, tmp_path / "m", "test_split.npz")
    assert_one_line_error(*run_cli(capsys, "harness", "--port", "loop://", "--model", str(model)), "test_split.npz")


def test_harness_no_weights(capsys, synthetic, tmp_path):
    model = copy_without(synthetic, tmp_path / "m", "weights.npz")
    assert_one_line_error(*run_cli(capsys, "harness", "--port", "loop://", "--model", str(model)), "weights.npz")


def test_harness_model_the_kernel_cannot_run(capsys, synthetic, tmp_path):
    model = copy_without(synthetic, tmp_path / "m")
    manifest = json.loads((model / "model.json").read_text())
    manifest["cell"] = "rnn"
    (model / "model.json").write_text(json.dumps(manifest))
    assert_one_line_error(*run_cli(capsys, "harness", "--port", "loop://", "--model", str(model)), str(model))


def test_harness_missing_port_option(capsys):
    assert_one_line_error(*run_cli(capsys, "harness"), "--port")


def test_demo_unknown_board(capsys):
    assert_one_line_error(*run_cli(capsys, "demo", "--board", "nope"), "nope")


def test_hwtest_unknown_board(capsys, synthetic):
    assert_one_line_error(*run_cli(capsys, "hwtest", "--board", "nope", "--model", str(synthetic)), "nope")


def test_hwtest_model_not_an_artifact(capsys):
    assert_one_line_error(*run_cli(capsys, "hwtest", "--model", "/nonexistent"), "/nonexistent", "model.json")


def test_hwtest_model_without_weights(capsys, synthetic, tmp_path):
    model = copy_without(synthetic, tmp_path / "m", "weights.npz")
    assert_one_line_error(*run_cli(capsys, "hwtest", "--model", str(model), "--board", "qemu-mps2-an386"),
                          "weights.npz")


def test_hwtest_typo_is_refused_not_passed_to_pytest(capsys):
    assert_one_line_error(*run_cli(capsys, "hwtest", "--modle", "x"), "--modle")


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_boards_generate_into_a_folder_that_cannot_be_written(capsys, tmp_path, where):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" if where == "a file" else tmp_path / "afile" / "gen"
    assert_one_line_error(*run_cli(capsys, "boards", "generate", "qemu-mps2-an386", str(out)),
                          "cannot write the build inputs", str(out))


@pytest.mark.parametrize("image, words", [("missing.elf", ["cannot read", "missing.elf"]),
                                          ("notelf.bin", ["notelf.bin", "is not an ELF file"]),
                                          (".", ["cannot read"])])
def test_boards_fit_on_a_missing_or_non_elf_file(capsys, tmp_path, image, words):
    (tmp_path / "notelf.bin").write_bytes(b"\x00\x20\x00\x20" * 64)
    assert_one_line_error(*run_cli(capsys, "boards", "fit", "qemu-microbit", str(tmp_path / image)), *words)


@pytest.mark.parametrize("scale, words", [("0.1,0.2", ["2 values", "6 input channels", "one per channel (6)"]),
                                          ("0,1,1,1,1,1", ["0 is not a positive number"]),
                                          ("nan", ["nan is not a positive number"]),
                                          ])
def test_export_lib_int_scale_mistakes(capsys, synthetic, tmp_path, scale, words):
    assert_one_line_error(*run_cli(capsys, "export", "--lib", str(tmp_path / "lib"), "--model", str(synthetic),
                                   "--int-scale", scale, "--no-measure"), *words)


def test_export_lib_int_scale_too_far_from_the_data(capsys, synthetic, tmp_path):
    """Found only once the model is exported (its progress lines come first): still one error line, no traceback."""
    model = shutil.copytree(synthetic, tmp_path / "m")
    code, err = run_cli(capsys, "export", "--lib", str(tmp_path / "lib"), "--model", str(model), "--int-scale",
                        "1e-30", "--no-measure")
    assert_one_line_error(code, err.strip().splitlines()[-1], "--int-scale", "out of range", "real unit")


TINYRNN = Path(sys.executable).parent / "tinyrnn"      # the console script pip installs


@pytest.mark.parametrize("argv,words", [
    (["flash", "--board", "nope"], ["nope"]),
    (["harness", "--port", "/dev/pts/999", "--limit", "0"], ["--limit"]),
    (["demo", "--board", "nope"], ["nope"]),
    (["hwtest", "--board", "nope"], ["nope"]),
    (["boards", "show", "nope"], ["nope"]),
    (["export", str(Path("/nonexistent"))], ["/nonexistent"]),
    (["frobnicate"], ["frobnicate", "train"]),
])
def test_real_command_lines(argv, words, tmp_path):
    proc = subprocess.run([str(TINYRNN), *argv], cwd=tmp_path, capture_output=True, text=True)
    assert_one_line_error(proc.returncode, proc.stderr, *words)


@pytest.mark.parametrize("command", ["train", "export", "predict", "boards", "flash", "harness", "hwtest", "demo",
                                     "bench", "mpserve"])
def test_help_names_the_command_typed(command):
    proc = subprocess.run([str(TINYRNN), command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: tinyrnn {command}"), proc.stdout
    assert "examples:" in proc.stdout


def test_tinyrnn_help_lists_every_command():
    proc = subprocess.run([str(TINYRNN), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for command in cli.COMMANDS:
        assert f"\n  {command} " in proc.stdout, proc.stdout


def test_train_script_from_a_clone_is_the_same_command(tmp_path):
    """`python host/train.py` keeps working, with its own name in the usage line and the same errors."""
    proc = subprocess.run([sys.executable, str(REPO / "host" / "train.py"), "--help"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python host/train.py"), proc.stdout
    proc = subprocess.run([sys.executable, str(REPO / "host" / "train.py"), "--units", "0"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert_one_line_error(proc.returncode, proc.stderr, "--units")
