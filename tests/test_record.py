"""`tinyrnn record` on a real serial port (a pty this test writes into, as a board would): the sample-line parser,
the CSV it appends to (read back by the one reader, host/formats/sequences.py), ids that never collide, garbage
and channel-count changes said and never recorded, a drifting rate said, and a recording cut short kept."""
import fcntl
import importlib.util
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import tty

import numpy as np
import pytest

from tinyrnn.host import cli
from tinyrnn.host.check.sample_recording import RecordingFile, sparkline
from tinyrnn.host.formats.sample_lines import SampleLineParser, sample_line
from tinyrnn.host.formats.sequences import read_sequence_file
from tinyrnn.host.training.data import load_user_file
from tinyrnn.quantize.sources import MICROPYTHON_DIR

pytestmark = pytest.mark.fast


# ---- the parser --------------------------------------------------------------------------------------

def test_parser_takes_commas_tabs_and_spaces_and_fixes_the_channel_count():
    p = SampleLineParser()
    assert p.parse(b"# rate_hz=50\r\n").rate_hz == 50.0 and p.stated_rate_hz == 50.0
    p = SampleLineParser()
    assert p.parse(b"ax,ay,az\r\n").names == ("ax", "ay", "az")
    assert p.parse(b"1.5,-2,3e-3\r\n").values == (1.5, -2.0, 0.003)
    assert p.parse(b"1.5\t-2\t3\n").values == (1.5, -2.0, 3.0)
    assert p.parse(b"  1.5  -2 3 \n").values == (1.5, -2.0, 3.0)
    assert p.parse(b"1,2\n").kind == "changed"
    assert p.parse(b"1,2,3,4\n").kind == "changed"
    assert p.parse(b"bx,by,bz\n").kind == "changed"            # other names: not the same channels
    assert p.parse(b"# a comment\n").kind == "comment"
    assert p.parse(b"\r\n").kind == "blank"


@pytest.mark.parametrize("line, reason", [
    (b"1,2,nan", "NaN or inf"), (b"1,inf,2", "NaN or inf"), (b"1,,2", "an empty field"),
    (b"1,2,x7", "'x7' is not a number"), (b"1_000,2,3", "'1_000' is not a number"),
    (b"# rate_hz=-3", "rate_hz=-3 is not a positive number"), (b"\xff\xfe,1,2", "is not a number"),
])
def test_parser_refuses_a_bad_line_whole(line, reason):
    p = SampleLineParser()
    p.parse(b"1,2,3")
    parsed = p.parse(line)
    assert parsed.kind == "garbage" and reason in parsed.reason and parsed.values == ()


def test_sample_line_round_trips_floats_exactly():
    values = (0.1, -9.81, 1e-7, 123456.789)
    assert SampleLineParser().parse(sample_line(values)).values == values


def test_sparkline_scales_to_its_own_range():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([0, 7], ascii_only=True) == " #"


# ---- the file ----------------------------------------------------------------------------------------

def test_ids_never_collide_with_the_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("sequence_id,label,split,ax\nwalk-001,walk,train,1\nwalk-007,walk,train,2\nwalk-x,walk,train,3\n")
    out = RecordingFile(path, None)
    assert out.new_id("walk") == "walk-008" and out.new_id("sit") == "sit-001"
    assert out.new_id("a b,c") == "a_b_c-001"
    out.append("walk", "test", None, ["ax"], [[4.0], [5.0]])
    f = read_sequence_file(path)
    assert f.ids == ["walk-001", "walk-007", "walk-x", "walk-008"]
    assert f.splits[-1] == "test" and f.sequences[-1].tolist() == [[4.0], [5.0]]


def test_a_file_of_other_channels_or_without_a_group_column_is_refused(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("sequence_id,label,ax,ay\ns1,walk,1,2\n")
    out = RecordingFile(path, None)
    with pytest.raises(Exception, match="the board sends 3 channels"):
        out.check_channels(3, None)
    with pytest.raises(Exception, match="names its channels bx, by"):
        out.check_channels(2, ("bx", "by"))
    assert out.check_channels(2, None) == ["ax", "ay"]
    with pytest.raises(Exception, match="no split column for --split test"):
        out.append("walk", "test", None, ["ax", "ay"], [[1, 2]])
    with pytest.raises(Exception, match="no group column"):
        RecordingFile(path, "alice")
    with pytest.raises(Exception, match="recordings are written as CSV"):
        RecordingFile(tmp_path / "mine.npz", None)


def test_training_reads_a_recorded_file_with_no_test_recordings_as_having_no_split(tmp_path):
    """`record` always writes a split column; with no test recordings training makes its own split."""
    path = tmp_path / "mine.csv"
    out = RecordingFile(path, "alice")
    for label in ("a", "b"):
        out.append(label, "train", "alice", ["x", "y"], np.ones((4, 2)))
    x_tr, y_tr, x_te, y_te, groups, names = load_user_file(str(path), "group")
    assert len(x_tr) == 2 and x_te is None and names == ["x", "y"] and list(groups) == ["alice", "alice"]
    out.append("a", "test", "alice", ["x", "y"], np.ones((4, 2)))
    assert len(load_user_file(str(path), "group")[2]) == 1


# ---- the command on a pty ------------------------------------------------------------------------------

class Board:
    """A pty whose master this test writes sample lines into: the slave is a serial port like a board's."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self.stopped = threading.Event()
        self.threads = []

    def play(self, lines, period=0.01, pid=None, close=False):
        def writer():
            self.wait_until_opened(pid)            # the command opens the port first (opening flushes it)
            os.write(self.master, b"cut-off partial line\n")
            for i, line in enumerate(lines):
                if self.stopped.is_set():           # the test is over: its descriptors may be reused
                    return
                try:
                    os.write(self.master, line.encode() + b"\r\n")
                except OSError:             # the test is over and closed the pty
                    return
                time.sleep(period[i] if isinstance(period, list) else period)
            if close:
                os.close(self.master)
                self.master = -1
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def wait_until_read(self, timeout=30.0):
        """Until the command has read every byte written so far (the slave's input queue is empty)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD,
                                                                              b"\0\0\0\0"))[0]:
            time.sleep(0.01)

    def wait_until_opened(self, pid=None):
        """Until the command holds the slave: a second descriptor of this process, or one of process `pid`. (A
        command started on a loaded machine can take many seconds to import its way there; lines written before
        it opens the port are flushed by the open, so the wait is long.)"""
        deadline = time.monotonic() + 90.0
        needed, where = (1, f"/proc/{pid}/fd") if pid else (2, "/proc/self/fd")
        while time.monotonic() < deadline and not self.stopped.is_set():
            holders = 0
            try:
                fds = os.listdir(where)
            except OSError:                 # the command has exited: nothing will open the port
                break
            for fd in fds:
                try:
                    holders += os.readlink(f"{where}/{fd}") == self.port
                except OSError:
                    pass
            if holders >= needed:
                break
            time.sleep(0.02)
        time.sleep(0.05)

    def close(self):
        self.stopped.set()
        for thread in self.threads:
            thread.join()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def board():
    b = Board()
    yield b
    b.close()


def wave(n, start=0):
    return [f"{np.sin(i / 4):.5f},{i},{-0.5 * i}" for i in range(start, start + n)]


def test_record_appends_labelled_sequences_and_says_channels_and_rate(board, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    first = board.play(["# rate_hz=100", "ax,ay,az"] + wave(70))
    rc = cli.main(["record", "--port", board.port, "--label", "wave", "--samples", "30", "--repeat", "2",
                   "--out", str(out), "--timeout", "5"])
    text = capsys.readouterr()
    assert rc == 0, text.err
    assert "channels: 3 (ax, ay, az; from the board's header)" in text.out
    assert "rate: board says 100 Hz; measured" in text.out
    assert "recorded wave-001: 30 samples" in text.out and "recorded wave-002: 30 samples" in text.out
    assert any(c in text.out for c in "▁▂▃▄▅▆▇█")                # the sparkline of each recording
    f = read_sequence_file(out)
    assert f.ids == ["wave-001", "wave-002"] and f.channels == ["ax", "ay", "az"]
    assert f.labels == ["wave", "wave"] and f.splits == ["train", "train"]
    assert f.sequences[0][:, 1].tolist() == list(range(30)) and f.sequences[1][:, 1].tolist() == list(range(30, 60))
    # a second run appends under new ids, as test data
    first.join()
    board.play(wave(40))
    assert cli.main(["record", "--port", board.port, "--label", "wave", "--samples", "10", "--split", "test",
                     "--out", str(out), "--timeout", "5"]) == 0
    f = read_sequence_file(out)
    assert f.ids[-1] == "wave-003" and f.splits[-1] == "test" and len(f.sequences[-1]) == 10


def test_garbage_and_channel_count_changes_are_said_counted_and_not_recorded(board, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    lines = wave(5) + ["hello there", "1.0,2.0", "1,2,nan", "4;5;6", "1,2,3,4"] + wave(5, start=5)
    board.play(lines)
    assert cli.main(["record", "--port", board.port, "--label", "w", "--samples", "10", "--out", str(out),
                     "--timeout", "5"]) == 0
    text = capsys.readouterr().out
    assert text.count("garbage line (not recorded)") == 2            # nan, 4;5;6
    assert text.count("channel count changed (line not recorded)") == 3
    assert "2 garbage line(s) and 3 channel-count change(s), none recorded" in text
    seq = read_sequence_file(out).sequences[0]
    assert seq[:, 1].tolist() == list(range(10))                      # only the good samples, in order


def test_a_header_after_the_first_samples_still_names_a_new_file(board, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    board.play(wave(3) + ["ax,ay,az"] + wave(7, start=3))
    assert cli.main(["record", "--port", board.port, "--label", "w", "--samples", "10", "--out", str(out),
                     "--timeout", "5"]) == 0
    text = capsys.readouterr().out
    assert "no header line yet: named ch0..." in text and "channel names from the board's header: ax, ay, az" in text
    f = read_sequence_file(out)
    assert f.channels == ["ax", "ay", "az"] and f.sequences[0][:, 1].tolist() == list(range(10))


def test_a_drifting_rate_is_said(board, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    board.play(["# rate_hz=40"] + wave(42), period=[0.0] + [0.025] * 21 + [0.08] * 21)
    assert cli.main(["record", "--port", board.port, "--label", "w", "--samples", "42", "--out", str(out),
                     "--timeout", "5"]) == 0
    text = capsys.readouterr().out
    assert "rate: board says 40 Hz" in text
    # timing on a loaded machine is noise: the slow half (12.5 Hz) drifts whatever the first half measured
    assert "rate drift:" in text and "the board says 40 Hz" in text and " 0 rate drift(s)" not in text
    assert len(read_sequence_file(out).sequences[0]) == 42           # said, and still recorded: the samples are good


def test_a_board_that_goes_away_keeps_every_finished_recording_and_the_cut_one(board, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    board.play(wave(25), close=True)
    rc = cli.main(["record", "--port", board.port, "--label", "w", "--samples", "10", "--repeat", "5",
                   "--out", str(out), "--timeout", "5"])
    text = capsys.readouterr()
    assert rc == 2 and "the port went away" in text.out, text
    assert "recorded w-003: 5 samples" in text.out and "cut short" in text.out
    f = read_sequence_file(out)
    assert [len(s) for s in f.sequences] == [10, 10, 5]
    assert np.concatenate(f.sequences)[:, 1].tolist() == list(range(25))


def test_a_silent_port_is_one_line(board, tmp_path, capsys):
    rc = cli.main(["record", "--port", board.port, "--label", "w", "--out", str(tmp_path / "r.csv"),
                   "--timeout", "0.5"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: no sample lines from") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r.csv").exists()


def test_bad_options_are_one_line(tmp_path, capsys):
    assert cli.main(["record", "--port", "loop://", "--label", "w", "--out", str(tmp_path / "x.npz")]) == 2
    assert "written as CSV" in capsys.readouterr().err
    assert cli.main(["record", "--port", "loop://", "--label", "w", "--seconds", "1", "--samples", "3",
                     "--out", str(tmp_path / "x.csv")]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def as_a_terminal_starts_it():
    """Ctrl-C's default action, as in a terminal's foreground job: a suite started in the background (`make test &`,
    nohup) has SIGINT ignored, which its children inherit, and the Ctrl-C below would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_every_finished_recording_and_the_one_in_progress(board, tmp_path):
    out = tmp_path / "rec.csv"
    proc = subprocess.Popen([sys.executable, "-m", "tinyrnn.host.cli", "record", "--port", board.port, "--label", "w",
                             "--samples", "10", "--repeat", "5", "--out", str(out), "--timeout", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            preexec_fn=as_a_terminal_starts_it)
    # One whole recording and half of the next, then silence: the Ctrl-C is sure to find the second one in
    # progress however loaded the machine is (with a steady stream, a slow test could see all five finish).
    board.play(wave(15), period=0.02, pid=proc.pid).join(30)
    board.wait_until_read()
    time.sleep(0.5)                         # and parsed: microseconds of work, however late it is scheduled
    proc.send_signal(signal.SIGINT)
    text, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, text + err
    assert "interrupted: " in text and "cut short" in text
    f = read_sequence_file(out)
    assert f.ids[0] == "w-001" and len(f.sequences[0]) == 10 and 0 < len(f.sequences[-1]) < 10
    assert np.concatenate(f.sequences)[:, 1].tolist() == list(range(sum(len(s) for s in f.sequences)))


def test_the_micropython_helpers_print_what_the_parser_reads():
    """tinyrnn_model's sample_line / header_line / rate_line (plain Python: they run unchanged under CPython)."""
    spec = importlib.util.spec_from_file_location("tinyrnn_model", MICROPYTHON_DIR / "tinyrnn_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    p = SampleLineParser()
    assert module.rate_line(10) == "# rate_hz=10.0\n" and p.parse(module.rate_line(12.5)).rate_hz == 12.5
    assert p.parse(module.header_line(("ax", "ay", "az"))).names == ("ax", "ay", "az")
    line = module.sample_line([0.1, -9.81, 7])
    assert line == "0.100000,-9.810000,7\n" and p.parse(line).values == (0.1, -9.81, 7.0)
    assert module.sample_line([1.23456], decimals=2) == "1.23\n"
