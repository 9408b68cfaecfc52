"""Real MicroPython boards (a board of [runtime] kind "micropython" with [runner] kind "mpremote") as a board
target: deploy the model and the protocol server over the board's serial port with mpremote, start the server.

  1. probe     `mpremote connect PORT exec ...`: sys.implementation._mpy (the .mpy version and native
               architecture the firmware loads), the platform, machine.freq(), and whether tinyrnn_c is
               compiled in (a user C module: then nothing native is copied)
  2. choose    the newest natmod this kit builds that the firmware loads (ARM: its own architecture or an older
               one; x64, rv32imc), else pure Python with a warning naming the expected speed
  3. stage     the server and the API (.mpy from the kit's mpy-cross when the firmware reads .mpy v6, else .py),
               the natmod as tinyrnn_c.mpy + kernel_c.bin, or tinyrnn_mp + kernel.bin + tables.bin
  4. copy      one `mpremote connect PORT cp FILE... :` into the board's filesystem
  5. start     the server over the raw REPL (raw_repl.start_server): it turns Ctrl-C off and answers the protocol
               from then on; a reset (or unplugging) gives the REPL back

Tested against the emulated MicroPython board and pure functions (tests/test_mpdeploy.py): steps 1, 2, 3 and 5 run
for real on QEMU; step 4 cannot (the qemu port has no writable filesystem), so the test checks the mpremote
command line and loads the same files as a ROMFS image instead. Untested on real hardware: see docs/protocol.md.
"""
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyrnn.host.device.micropython import builds
from tinyrnn.host.device.micropython.qemu_firmware import describe_lines
from tinyrnn.host.device.micropython.raw_repl import READY, repl_answers, start_server
from tinyrnn.host.device.micropython.staging import stage
from tinyrnn.host.device.target import Running, Target
from tinyrnn.host.link.client import connect
from tinyrnn.quantize.errors import TinyRNNError, ToolMissing, UserError
from tinyrnn.quantize.twin.params import DamagedKernelFiles, KernelParams, UnsupportedModel

# py/persistentcode.h: MP_NATIVE_ARCH_* in order; _mpy = version | (sub_version | arch << 2) << 8
MPY_ARCHS = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
             "xtensawin", "rv32imc", "rv64imc")
ARM_LOADS_OLDER = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")    # each loads those before it
BUILT = set(builds.NATMOD_ARCHS)
# Pure Python, measured on the emulated Cortex-M3/M4/M7 (README, "MicroPython"): instructions per MAC of the model
PYTHON_INSTRUCTIONS_PER_MAC = 1300
GENERIC_BOARD = "micropython"          # boards/micropython: any real board, named by its platform when deployed

# The first line of the main.py `tinyrnn flash --at-boot` writes: how a later deploy tells it from the user's own.
MAIN_MARKER = "# tinyrnn: starts the protocol server at boot"
# Seconds main.py waits before it starts the server: a Ctrl-C then (mpremote, or a deploy) gives the REPL back.
BOOT_WINDOW_S = 3

PROBE_CODE = (
    "import sys\n"
    "try:\n import machine; f = machine.freq(); f = f[0] if isinstance(f, tuple) else f\n"
    "except Exception:\n f = 0\n"
    "try:\n import tinyrnn_c; c = getattr(tinyrnn_c, 'BUILD', 'natmod')\n"
    "except ImportError:\n c = '-'\n"
    "try:\n m = open('main.py').readline().startswith(%r) and 'tinyrnn' or 'user'\n"
    "except OSError:\n m = '-'\n"
    "print('TINYRNN-PROBE', getattr(sys.implementation, '_mpy', 0), sys.platform, f, c, m)\n") % MAIN_MARKER


@dataclass(frozen=True)
class BoardFacts:
    mpy_version: int            # bytecode .mpy version (6 since MicroPython 1.20)
    mpy_sub_version: int        # must match a natmod's exactly (3 in 1.23-1.28)
    arch: str                   # native architecture (MPY_ARCHS), "none" without a native emitter
    platform: str               # sys.platform: rp2, esp32, pyboard, nrf, qemu, ...
    freq_hz: int                # machine.freq(), 0 where the port has none
    builtin: str                # "cmodule" if tinyrnn_c is compiled in, "natmod" if one is on the board, "-"
    main_py: str = "-"          # the board's main.py: "-" none, "tinyrnn" (written by --at-boot), "user"

    @property
    def result_name(self):
        """The board name a generic MicroPython board's server reports (and its results are filed under):
        one per platform, so a Pico's results and an ESP32's do not overwrite each other."""
        return f"micropython-{self.platform}"


def decode_mpy(value):
    """sys.implementation._mpy -> (version, sub_version, arch name)."""
    arch = (value >> 10) & 0x0F
    return value & 0xFF, (value >> 8) & 0x03, MPY_ARCHS[arch] if arch < len(MPY_ARCHS) else f"arch{arch}"


def parse_probe(text):
    match = re.search(r"TINYRNN-PROBE (\d+) (\S+) (\d+) (\S+)(?: (\S+))?", text)
    if not match:
        raise TinyRNNError(f"no answer from MicroPython on the port: {text.strip()[-300:]!r}")
    version, sub, arch = decode_mpy(int(match.group(1)))
    return BoardFacts(version, sub, arch, match.group(2), int(match.group(3)), match.group(4), match.group(5) or "-")


def run_mpremote(port, *args, timeout=120):
    """`python -m mpremote connect PORT ARGS...`; its stdout, or a TinyRNNError with its last lines."""
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TinyRNNError(f"mpremote {args[0]} on {port}: no answer in {timeout} s",
                           "check the port and that the board runs MicroPython (not a busy program)") from None
    if proc.returncode != 0:
        if "No module named mpremote" in proc.stderr:
            raise ToolMissing("mpremote not installed: pip install mpremote==1.29.0")
        raise TinyRNNError(f"mpremote {args[0]} on {port}: "
                           f"{(proc.stdout + proc.stderr).strip()[-300:]}")
    return proc.stdout


def probe(port, mpremote=run_mpremote):
    return parse_probe(mpremote(port, "exec", PROBE_CODE))


def _macs(params):
    """Multiply-accumulates per step: every product's rows x (columns of both inputs)."""
    return sum(d.rows * (d.weights_a.shape[1] + (d.weights_b.shape[1] if d.weights_b is not None else 0))
               for _, d in params.dense_items() if d is not None and d.rows)


def choose(facts, params=None, source_version=(6, 3)):
    """(implementation, natmod arch or None, warning or None) for a board: the user C module when compiled in,
    else the newest natmod the kit builds that this firmware loads, else pure Python (with the warning)."""
    if facts.builtin == "cmodule":
        return "cmodule", None, None
    why = None
    if (facts.mpy_version, facts.mpy_sub_version) != source_version:
        why = (f"its .mpy is v{facts.mpy_version}.{facts.mpy_sub_version}, the kit's natmods are "
               f"v{source_version[0]}.{source_version[1]} (MicroPython {builds.MICROPY_VERSION}: update the firmware)")
    elif facts.arch in BUILT and facts.arch not in ARM_LOADS_OLDER:      # x64, rv32imc (ESP32-C3/C6)
        return "natmod", facts.arch, None
    elif facts.arch in ARM_LOADS_OLDER:
        loadable = [a for a in ARM_LOADS_OLDER[:ARM_LOADS_OLDER.index(facts.arch) + 1] if a in BUILT]
        if loadable:
            return "natmod", loadable[-1], None
    if why is None:
        why = (f"no natmod for its architecture {facts.arch!r} (the kit builds {', '.join(sorted(BUILT))}; "
               "or build tinyrnn_c into its firmware: USER_C_MODULES)")
    speed = ""
    if params is not None:
        instructions = PYTHON_INSTRUCTIONS_PER_MAC * _macs(params)
        speed = f": expect about {instructions / 1e6:.1f} million instructions per step"
        if facts.freq_hz:
            speed += f" (~{instructions / facts.freq_hz * 1e3:.0f} ms at {facts.freq_hz / 1e6:g} MHz)"
    return "python", None, (f"warning: pure-Python kernel on this board{speed}, several hundred times slower "
                            f"than the C kernels: {why}")


def serving(port):
    """The INFO of a tinyrnn server already answering on `port` (it turned Ctrl-C off, so no REPL answers and
    mpremote would wait out its timeout), or None when the board's REPL answers (or nothing does)."""
    if repl_answers(port):
        return None
    try:
        client = connect(port, timeout=1.0, retries=2, reruns=0)
    except TinyRNNError:              # not our protocol either: mpremote's probe says what it finds
        return None
    client.transport.close()
    return client.info


def check_not_serving(port):
    """Refuse at once (instead of mpremote's 120 s wait) a board whose tinyrnn server is running."""
    info = serving(port)
    if info is not None:
        raise UserError(f"{port}: the tinyrnn server is running there ({info.describe()}); it has turned Ctrl-C "
                        "off, so MicroPython's REPL cannot take a new deploy",
                        "reset the board (its reset button, or unplug and replug it) and run this again (within "
                        f"{BOOT_WINDOW_S} s of the reset if it starts the server at boot: tinyrnn flash --at-boot)")


def main_py(board_name, implementation, window_s=BOOT_WINDOW_S):
    """main.py for --at-boot: for BOOT_WINDOW_S seconds a Ctrl-C (0x03, as mpremote and a deploy send) leaves it
    to the REPL; otherwise it starts the server. It polls stdin itself: some ports (qemu) take no Ctrl-C while
    code runs, and the server turns Ctrl-C off."""
    impl = "python" if implementation == "python" else "native"
    return (f"{MAIN_MARKER} (tinyrnn flash --at-boot).\n"
            f"# A Ctrl-C within {window_s:g} s of a reset gives the REPL back; `mpremote rm :main.py` removes this.\n"
            "import select, sys, time\n"
            "poll = select.poll()\n"
            "poll.register(sys.stdin, select.POLLIN)\n"
            f"end = time.ticks_add(time.ticks_ms(), {round(1000 * window_s)})\n"
            "stop = False\n"
            "while not stop and time.ticks_diff(end, time.ticks_ms()) > 0:\n"
            "    stop = bool(poll.poll(50)) and sys.stdin.read(1) == '\\x03'\n"
            "if not stop:\n"
            "    import tinyrnn_server\n"
            f"    tinyrnn_server.main(board_name={board_name!r}, implementation={impl!r}, "
            f"ready=lambda s: sys.stdout.write({READY.decode()!r} + ' ' + s.model.implementation + '\\n'))\n")


def _kernel_params(model_dir: Path) -> KernelParams:
    """The model's kernel parameters, exported first if the artifact has none yet (as a firmware board's flash
    does); an unreadable or unsupported model is one line."""
    from tinyrnn.host.device.firmware import ensure_exported

    ensure_exported(model_dir)
    try:
        return KernelParams.load(model_dir)
    except DamagedKernelFiles as e:
        raise TinyRNNError(f"{model_dir}: unreadable artifact ({e})",
                           "the file is damaged or truncated: train or export the model again") from None
    except UnsupportedModel as e:
        raise TinyRNNError(f"{model_dir}: {e}") from None


def deploy(board, port, model_dir, mpremote=run_mpremote, log=print, at_boot=False):
    """Probe, choose, stage and copy (mpremote), then start the server; returns (implementation, arch).
    `at_boot`: also write a main.py that starts the server after a reset (a main.py of the user's is refused);
    without it, a main.py an earlier --at-boot wrote is removed."""
    model_dir = Path(model_dir)
    check_not_serving(port)                  # first: a wrong port is the likeliest mistake, and the cheapest
    params = _kernel_params(model_dir)
    facts = probe(port, mpremote)
    log(f"{port}: MicroPython on {facts.platform}, .mpy v{facts.mpy_version}.{facts.mpy_sub_version}, "
        f"arch {facts.arch}" + (f", {facts.freq_hz / 1e6:g} MHz" if facts.freq_hz else ""))
    if at_boot and facts.main_py == "user":
        raise UserError(f"{port}: the board has a main.py of its own; --at-boot would replace it",
                        "keep it under another name first (mpremote mv :main.py :main_old.py), or deploy without "
                        "--at-boot")
    implementation, arch, warning = choose(facts, params)
    if board.runtime["module"] == "python":
        implementation, arch, warning = "python", None, None
    if warning:
        print(warning, file=sys.stderr)
    name = facts.result_name if board.name == GENERIC_BOARD else board.name
    out_dir = builds.build_root() / "deploy" / params.model_hash
    files = stage_for(board, facts, implementation, arch, model_dir, out_dir)
    if at_boot:
        (out_dir / "main.py").write_text(main_py(name, implementation))
        files = sorted(files + [str(out_dir / "main.py")])
    log(f"copying {len(files)} files ({implementation}{' ' + arch if arch else ''}) with mpremote")
    mpremote(port, "cp", *files, ":")
    if not at_boot and facts.main_py == "tinyrnn":
        log("removing the main.py an earlier --at-boot wrote (the server no longer starts at boot)")
        mpremote(port, "rm", ":main.py")
    start_server(port, start_code(board, implementation, name))
    return implementation, arch


def stage_for(board, facts, implementation, arch, model_dir, out_dir):
    """The files for this board (staging.stage), as a sorted list of paths."""
    compiled = facts.mpy_version == 6
    target = arch or (facts.arch if facts.arch not in ("none", "armv6") and compiled else None)
    runtime = {**board.runtime, "module": implementation, "natmod_arch": target, "user_c_module": False}
    staged = stage(board, model_dir, out_dir, (implementation,), runtime=runtime, compiled=compiled)
    return sorted(str(p) for p in staged.iterdir())


def start_code(board, implementation, board_name=None):
    impl = "python" if implementation == "python" else "native"
    return ("import sys, tinyrnn_server\n"
            f"tinyrnn_server.main(board_name={(board_name or board.name)!r}, implementation={impl!r}, "
            f"ready=lambda s: sys.stdout.write({READY.decode()!r} + ' ' + s.model.implementation + '\\n'))\n")


class MicroPythonOnPort(Target):
    """A real board running MicroPython on --port: nothing to build ahead (deploy chooses the files once it has
    probed the board); start() deploys and starts the server; a reset of the board gives its REPL back."""

    @property
    def unit(self):
        return "cycles"

    def check_options(self, model_dir, port):
        if not port or not model_dir:
            raise UserError(f"{self.name} is a real MicroPython board: it needs --port and --model",
                            f"e.g. tinyrnn flash --board {self.name} --port /dev/ttyACM0 --model ARTIFACT_DIR")

    at_boot = False

    def start_at_boot(self):
        self.at_boot = True

    def start(self, model_dir, image=None, run_dir=None, port=None):
        implementation, arch = deploy(self.board, port, model_dir, at_boot=self.at_boot)
        return Running(port, None, f"the tinyrnn server, {implementation}{' ' + arch if arch else ''}; "
                                   "reset the board for its REPL")

    def describe(self):
        return describe_lines(self.board, "dwt")
