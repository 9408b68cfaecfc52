"""Flash a real board through its debug probe with pyOCD or OpenOCD, never waiting for a probe that is not there.

Every tool run has a deadline (`TOOL_TIMEOUT_S`) and pyOCD's no-wait flag (-W), so a missing probe ends in seconds
with the tool's own cause in one line (FlashFailed) and nothing left running. The board's [runner] `tool` picks
the default (OpenOCD where pyOCD would need a CMSIS pack download); the other tool is used if it is the only one
installed. `--probe ID` picks one of several probes (pyOCD's unique id, OpenOCD's `adapter serial`).

    tinyrnn flash --board nucleo-f446re --model DIR [--probe ID]
    tinyrnn flash --list-probes
"""
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tinyrnn.host.device.boards import board_names, load_board
from tinyrnn.quantize.errors import FlashFailed, ToolMissing, UserError

TOOLS = ("openocd", "pyocd")
# Connect, erase, program and verify ~100 KiB take a few seconds on an ST-LINK or J-Link; a tool still running
# after this waits for something that will not come (a probe, a locked target). Under the 30 s bound.
TOOL_TIMEOUT_S = 25
# How long listing probes may take (no programming).
LIST_TIMEOUT_S = 15

NO_PROBE_FIX = ("plug the board's USB (ST-LINK/J-Link) or pass --probe (tinyrnn flash --list-probes); on Linux the "
                "probe needs udev rules (boards/README.md: Probes on Linux)")
# The tools' own lines that say what went wrong, the likeliest first, and what the user can do about each.
CAUSES = (
    (re.compile(r"No connected debug probe matches unique ID"), "check the id with tinyrnn flash --list-probes"),
    (re.compile(r"No connected debug probes|No available debug probes|open failed|No J-Link device found|"
                r"unable to find a matching CMSIS-DAP device|No device found", re.I), NO_PROBE_FIX),
    (re.compile(r"LIBUSB_ERROR_ACCESS|Permission denied|access denied", re.I),
     "install the probe's udev rules (boards/README.md: Probes on Linux) and plug it in again"),
    (re.compile(r"Target type .* not recognized|not a built-in target|pack install", re.I),
     "install the target's CMSIS pack once: pyocd pack install {pyocd_target} (or use OpenOCD)"),
    (re.compile(r"nrf52_recover|APPROTECT|locked", re.I),
     "the chip's debug port is protected: pyocd erase --mass -t nrf52840, or openocd ... -c 'nrf52_recover'"),
)
# A tool's error lines: OpenOCD "Error: ...", pyOCD's log "0001017 E ... [module]", Python tracebacks' last line.
ERROR_LINE = re.compile(r"^(Error:|\d+ E |[A-Za-z.]*Error: )")


def find_tool(name):
    """The path of a probe tool: on PATH, or installed beside this Python (pyOCD from pip in a venv that is not
    activated: `.venv/bin/tinyrnn flash ...`). None if it is in neither place."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None)


def tcl_word(text):
    """`text` as one word of an OpenOCD (Tcl) command: braced, so spaces and brackets stay literal."""
    if "{" in text or "}" in text or "\\" in text:
        raise UserError(f"{text}: OpenOCD cannot take a path with braces or backslashes",
                        "build into a folder without them (BUILD_DIR=...)")
    return "{" + text + "}"


def choose_tool(board):
    """The tool to flash `board` with: its [runner] tool if installed, else the other one."""
    preferred = board.runner.get("tool", "pyocd")
    for tool in (preferred, *(t for t in TOOLS if t != preferred)):
        if find_tool(tool):
            return tool
    raise ToolMissing(f"{board.name}: neither openocd nor pyocd is installed "
                      "(apt-get install openocd, or pip install pyocd)")


def flash_command(tool, board, elf, probe=None):
    """The command line that programs, verifies and resets `board` with `elf`."""
    runner = board.runner
    if tool == "pyocd":
        # -W: fail at once when no probe is connected instead of waiting for one
        return ["pyocd", "flash", "-W", "-t", runner["pyocd_target"], *(["-u", probe] if probe else []), str(elf)]
    select = ["-c", f"adapter serial {tcl_word(probe)}"] if probe else []
    return ["openocd", *runner["openocd_args"], *select,
            "-c", f"program {tcl_word(str(elf))} verify reset exit"]


def run_tool(cmd, timeout):
    """Run a probe tool in its own process group with a deadline -> (return code, output lines); on the deadline
    the whole group is killed, so nothing is left running. Return code None means it timed out."""
    cmd = [find_tool(cmd[0]) or cmd[0], *cmd[1:]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, errors="replace", start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)     # whatever the tool left behind in its group goes with it
        return proc.returncode, out.splitlines()
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out.splitlines()


def failure_cause(lines):
    """(the line that says why a tool failed, what to do) from its output."""
    lines = [line.strip() for line in lines if line.strip()]
    for pattern, fix in CAUSES:
        for line in lines:
            if pattern.search(line):
                return line, fix
    errors = [line for line in lines if ERROR_LINE.match(line)]
    return (errors or lines or ["no output"])[0], None


def flash_probe(board, elf, probe=None):
    """Program `elf` into `board` (board.toml [runner]: tool, pyocd_target, openocd_args), through the probe with
    unique id / serial `probe` if given. One line and FlashFailed on any failure, within TOOL_TIMEOUT_S."""
    tool = choose_tool(board)
    cmd = flash_command(tool, board, elf, probe)
    code, lines = run_tool(cmd, TOOL_TIMEOUT_S)
    if code is None:
        raise FlashFailed(f"{tool} did not finish flashing {board.name} within {TOOL_TIMEOUT_S} s (stopped it)",
                          "check the probe's connection and the board's power, then try again")
    if code != 0:
        cause, fix = failure_cause(lines)
        fix = fix.format(pyocd_target=board.runner["pyocd_target"]) if fix else \
            f"run it by hand to see all of its output: {subprocess.list2cmdline(cmd)}"
        raise FlashFailed(f"{tool} could not flash {board.name}: {cause}", fix)
    print(f"flashed {elf} to {board.name} with {tool}")


def probe_boards():
    """The boards flashed through a debug probe (their [runner] kind is "probe")."""
    boards = [load_board(name) for name in board_names()]
    return [board for board in boards if board.runner["kind"] == "probe"]


def list_probes():
    """What pyOCD and OpenOCD see (`tinyrnn flash --list-probes`), one line each: pyOCD's probe list, and for each
    probe board, whether OpenOCD finds its probe and target."""
    lines = []
    if find_tool("pyocd"):
        code, out = run_tool(["pyocd", "list", "--probes"], LIST_TIMEOUT_S)
        body = [line.strip() for line in out if line.strip() and not set(line.strip()) <= set("-")]
        lines += [f"pyocd: {line}" for line in body] or [f"pyocd: no output (exit {code})"]
    else:
        lines.append("pyocd: not installed (pip install pyocd)")
    if not find_tool("openocd"):
        return lines + ["openocd: not installed (apt-get install openocd)"]
    for board in probe_boards():
        args = board.runner["openocd_args"]
        code, out = run_tool(["openocd", *args, "-c", "init", "-c", "shutdown"], LIST_TIMEOUT_S)
        if code == 0:
            lines.append(f"openocd ({board.name}: {' '.join(args)}): a probe answered and the target connected")
        else:
            cause = failure_cause(out)[0] if code is not None else f"no answer in {LIST_TIMEOUT_S} s"
            lines.append(f"openocd ({board.name}: {' '.join(args)}): {cause}")
    return lines
