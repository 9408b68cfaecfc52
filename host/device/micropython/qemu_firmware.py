"""Emulated MicroPython boards ([runtime] kind "micropython", [runner] qemu) as a board target: build, deploy, serve.

An emulated MicroPython board (`mpy-qemu-mps2-an386`, `mpy-qemu-riscv32-virt`): MicroPython v1.28.0's qemu port
firmware, built by the project (host/device/micropython/builds.py; cached, it does not depend on the model), runs
in QEMU under -icount. The model and the server reach it as a ROMFS image that QEMU loads at the board's
`romfs_address`: no traffic on the serial line (mpremote mount would move every file over the UART the harness
needs, and the qemu port has no writable filesystem for mpremote cp), and it is how a board with a ROMFS
partition holds them. The image holds
tinyrnn_server / tinyrnn_model / protocol_ids compiled to .mpy with the build's mpy-cross, and per [runtime]
module: tinyrnn_c.mpy + kernel_c.bin (natmod), kernel_c.bin (cmodule: tinyrnn_c is in the firmware) or
tinyrnn_mp + kernel.bin + tables.bin (python). The server is started over the raw REPL (Ctrl-A, code, Ctrl-D);
it turns Ctrl-C off and says it is ready; from then on the port speaks only the protocol.

Latency: the server times each step with time.ticks_us(); under -icount one virtual microsecond is exactly 1,000
executed instructions, so INFO says "instructions" (resolution 1,000), not cycles. That holds on the MPS2 boards
(SysTick) and on RISC-V virt, whose port reads the `time` CSR: the ACLINT timer, 10 MHz of QEMU's virtual clock.
"""
from pathlib import Path

import serial

from tinyrnn.host.device import qemu
from tinyrnn.host.device.micropython import builds
from tinyrnn.host.device.micropython.raw_repl import READY, start_server
from tinyrnn.host.device.micropython.staging import NATMOD_ALIAS, romfs_image, stage, with_cmodule
from tinyrnn.host.device.target import InQemu, Target
from tinyrnn.quantize.errors import TinyRNNError, UserError
from tinyrnn.quantize.twin.params import KernelParams

# `tinyrnn boards show` printed a MicroPython board with the firmware board's fields, these with placeholder
# values; kept so that its output is unchanged (the data itself has no such fields).
# What the port's time.ticks_us() reads, per core family (`tinyrnn boards show`'s counter).
TICKS_SOURCE = {"cortexm": "systick", "riscv": "mtime"}
SHOWN_AS_BEFORE = {"flash_origin": 0, "flash_size": 0, "ram_origin": 0, "ram_size": 0, "clock": {"family": "none"},
                   "uart": {}}


def firmware(board):
    """The board's MicroPython firmware.elf (built once, cached: builds.qemu_firmware)."""
    return builds.qemu_firmware(board.runtime["port_board"], user_c_module=with_cmodule(board), family=board.family)


def qemu_args(board, image=None):
    """QEMU arguments for MicroPython's qemu port: semihosting (the port makes semihosting calls; without it the
    firmware stops at the first one, silently) and the ROMFS image at the board's address."""
    loader = ["-device", f"loader,file={image},addr={board.runtime['romfs_address']:#x},force-raw=on"] if image else []
    return ["-semihosting", *loader]


def mount_code(board, image_size):
    """Mount the ROMFS image QEMU loaded at /rom, make it the current directory and put it on sys.path."""
    return ("import sys, os, vfs, uctypes\n"
            f"vfs.mount(vfs.VfsRom(uctypes.bytearray_at({board.runtime['romfs_address']:#x}, {image_size})), "
            "'/rom')\n"
            "sys.path.append('/rom')\n"
            "os.chdir('/rom')\n")


def server_code(board, image_size):
    """What the raw REPL runs: mount the ROMFS image, start the server (never returns)."""
    implementation = "python" if board.runtime["module"] == "python" else "native"
    # The natmod imported first under its alias: its heap, measured here, is the model's too (STATS heap_model).
    alias = (f"import gc\ngc.collect()\nkernel_heap = gc.mem_alloc()\nimport {NATMOD_ALIAS}\n"
             f"sys.modules['tinyrnn_c'] = {NATMOD_ALIAS}\ngc.collect()\nkernel_heap = gc.mem_alloc() - kernel_heap\n"
             if board.runtime["module"] == "natmod" and with_cmodule(board) else "kernel_heap = 0\n")
    return (
        mount_code(board, image_size) + alias +
        "import tinyrnn_server\n"
        f"tinyrnn_server.main(board_name={board.name!r}, implementation={implementation!r}, "
        f"counter='instructions', cpu_clock_hz={board.clock_hz}, kernel_heap=kernel_heap, "
        f"ready=lambda s: sys.stdout.write({READY.decode()!r} + ' ' + s.model.implementation + '\\n'))\n")


def describe_lines(board, counter):
    """`tinyrnn boards show` for a MicroPython board, in the order and with the fields it always had."""
    fields = board.__dict__
    shown = [(k, fields[k]) for k in ("name", "description", "core", "fpu", "clock_hz")]
    shown += [("counter", counter), *[(k, SHOWN_AS_BEFORE[k]) for k in ("flash_origin", "flash_size", "ram_origin",
                                                                       "ram_size", "clock", "uart")]]
    shown += [(k, fields[k]) for k in ("runner", "path", "runtime")] + [("interrupts", {})]
    return [f"{key} = {value}" for key, value in shown]


class EmulatedMicroPython(InQemu, Target):
    """MicroPython's qemu port firmware in QEMU, the model and the server in a ROMFS image it loads."""
    measures_micropython = True

    def check_options(self, model_dir, port):
        super().check_options(model_dir, port)
        if not model_dir:
            raise UserError(f"{self.name} runs MicroPython: it needs a model", "add --model ARTIFACT_DIR")

    def build(self, model_dir, verbose=False):
        """The firmware (cached: it does not depend on the model) and the ROMFS image of the model's files;
        returns the image (firmware() names the ELF)."""
        firmware(self.board)
        params = KernelParams.load(Path(model_dir))
        rom_dir = builds.build_root() / "rom" / self.name / params.model_hash
        stage(self.board, model_dir, rom_dir / "files")
        return romfs_image(rom_dir / "files", rom_dir / "romfs.img")

    def start(self, model_dir, image=None, run_dir=None, port=None):
        """QEMU with the firmware and the ROMFS image (built if not given), then the server over the raw REPL."""
        image = image or self.build(model_dir)
        record = qemu.start(self.board, firmware(self.board), run_dir=run_dir,
                            extra_args=qemu_args(self.board, image))
        try:
            start_server(record.port, server_code(self.board, image.stat().st_size))
        except (TinyRNNError, serial.SerialException) as e:
            qemu.stop(self.name, run_dir)
            raise TinyRNNError(f"{self.name}: {e}") from None
        return self.running(record)

    def describe(self):
        return describe_lines(self.board, TICKS_SOURCE[self.board.family])
