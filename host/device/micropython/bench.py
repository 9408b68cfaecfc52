"""Instructions per step and RAM of each MicroPython implementation on an emulated MicroPython board.

One QEMU run of the board's MicroPython firmware, built with tinyrnn_c compiled in (so the user C module and the
natmod are measured in the same firmware: the natmod is deployed as staging.NATMOD_ALIAS), with the model for
every implementation in a ROMFS image. Over the raw REPL the board times, with time.ticks_us() under
`-icount shift=0` (1 us = 1,000 executed instructions on MPS2 and RISC-V virt), N calls of `model.step(x, out)`
from Python minus the same loop with an empty body, and reads gc.mem_free() around each import and model load.
The bare-metal row is the kit's own firmware on the same QEMU machine, its SysTick (RISC-V: minstret) count per
STEP request (the kernel alone).
All figures are executed instructions, not cycles: QEMU models no wait states, pipeline or bus.
"""
import ast
import dataclasses
import tempfile

import numpy as np

from tinyrnn.host.device import qemu
from tinyrnn.host.device.boards import Board, board_names, load_board
from tinyrnn.host.device.micropython import builds, qemu_firmware, staging
from tinyrnn.host.device.micropython.raw_repl import run_code
from tinyrnn.quantize.twin.params import KernelParams

# What the board runs: {free heap, ...} and instructions per step, printed as one Python dict literal.
BENCH_CODE = """
import gc, time
from array import array
def free():
    gc.collect()
    return gc.mem_free()
def timed(f, m, x, y, n):
    t = time.ticks_us
    f(m, x, y, 1)
    t0 = t(); f(m, x, y, n); t1 = t(); f_empty(m, x, y, n); t2 = t()
    return (time.ticks_diff(t1, t0) - time.ticks_diff(t2, t1)) * 1000 // n
def f_empty(m, x, y, n):
    for _ in range(n):
        pass
def f_api(m, x, y, n):
    for _ in range(n):
        m.step(x, y)
def f_bound(f, x, y, n):
    for _ in range(n):
        f(x, y)
r = {{}}
f0 = free()
import tinyrnn_model
r["api_bytes"] = f0 - free()
def run(name, make, n, module=None, alias=True):
    f1 = free()
    if module:
        mod = __import__(module)
        if alias:
            tinyrnn_model.tinyrnn_c = mod
    f2 = free()
    m = make()
    f3 = free()
    x = array("h", [(i * 1237) % 4000 - 2000 for i in range(m.input_dim)])
    y = m.output_buffer()
    r[name] = {{"module_bytes": f1 - f2, "model_bytes": f2 - f3, "kernel_path": m.kernel_path,
               "api": timed(f_api, m, x, y, n), "bound": timed(f_bound, m.step, x, y, n)}}
    del m
{runs}
print(repr(r))
"""


def _runs(natmods, steps, python_steps):
    lines = []
    for label, module in natmods:
        lines.append(f"run({label!r}, lambda: tinyrnn_model.NativeModel('kernel_c.bin'), {steps}, {module!r})")
    lines.append("import tinyrnn_c")
    lines.append(f"run('cmodule', lambda: tinyrnn_model.NativeModel('kernel_c.bin'), {steps}, 'tinyrnn_c')")
    lines.append(f"run('python', lambda: tinyrnn_model.PythonModel('kernel.bin', 'tables.bin'), {python_steps}, "
                 "'tinyrnn_mp', False)")
    return "\n".join(lines)


def older_natmods(arch):
    """The natmod architectures a firmware of `arch` also loads (older ones), oldest first: on Arm each loads those
    before it; rv32imc has none."""
    order = ("armv6m", "armv7m", "armv7emsp", "armv7emdp")
    return order[:order.index(arch)] if arch in order else ()


def micropython_figures(board, model_dir, steps=1000, python_steps=3, extra_natmods=("armv6m",), run_dir=None):
    """{implementation: {api, bound (instructions/step), module_bytes, model_bytes, kernel_path}} on `board`."""
    board = dataclasses.replace(board, runtime={**board.runtime, "user_c_module": True})
    extra = [a for a in extra_natmods if a in older_natmods(board.runtime["natmod_arch"])]
    elf = qemu_firmware.firmware(board)
    params = KernelParams.load(model_dir)
    rom_dir = builds.build_root() / "bench" / board.name / params.model_hash
    staging.stage(board, model_dir, rom_dir / "files", ("natmod", "cmodule", "python"), extra)
    image = staging.romfs_image(rom_dir / "files", rom_dir / "romfs.img")
    natmods = [("natmod " + board.runtime["natmod_arch"], staging.natmod_file(board)[:-4])]
    natmods += [("natmod " + a, staging.natmod_file(board, a)[:-4]) for a in extra]
    code = qemu_firmware.mount_code(board, image.stat().st_size) + BENCH_CODE.format(
        runs=_runs(natmods, steps, python_steps))
    record = qemu.start(board, elf, run_dir=run_dir, extra_args=qemu_firmware.qemu_args(board, image))
    try:
        out = run_code(record.port, code, timeout=300)
    finally:
        qemu.stop(board.name, run_dir)
    return ast.literal_eval(out.strip().splitlines()[-1])


def bare_metal_board(board):
    """The kit's own firmware board on the same QEMU machine as the MicroPython board, or None."""
    for name in board_names():
        other = load_board(name)
        if isinstance(other, Board) and other.emulated and other.runner.get("machine") == board.runner["machine"]:
            return other
    return None


def bare_metal_figure(board, model_dir, steps=200, run_dir=None):
    """(median instructions per STEP, kernel path) of the kit's firmware on `board` (a firmware board)."""
    from tinyrnn.host.device.firmware import build, expected_hash
    from tinyrnn.host.link.client import connect
    elf = build(board, model_dir)
    record = qemu.start(board, elf, run_dir=run_dir)
    try:
        client = connect(record.port, expected_hash=expected_hash(model_dir))
        try:
            x = np.array([(i * 1237) % 4000 - 2000 for i in range(client.info.input_dim)], dtype=np.int16)
            client.reset()
            ticks = [client.step(x)[1] for _ in range(steps)]
            return int(np.median(client.info.ticks_to_count(ticks))), client.info.kernel_path
        finally:
            client.transport.close()
    finally:
        qemu.stop(board.name, run_dir)


def measure(board, model_dir, steps=1000):
    """`tinyrnn bench --micropython`: micropython_figures on the emulated MicroPython `board`, plus the kit's
    bare-metal firmware on the same QEMU machine (as "bare metal (<board>)") where there is one."""
    # The emulators it starts are recorded in a run directory of its own: the shared one (build/run) may hold
    # boards the user started with `tinyrnn flash`, which the bench must neither replace nor stop.
    with tempfile.TemporaryDirectory(prefix="tinyrnn-bench-") as run_dir:
        figures = micropython_figures(board, model_dir, steps=steps, run_dir=run_dir)
        bare = bare_metal_board(board)
        if bare:
            count, path = bare_metal_figure(bare, model_dir, run_dir=run_dir)
            figures["bare metal (" + bare.name + ")"] = {"api": count, "kernel_path": path}
    return figures
