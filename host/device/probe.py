"""Flash a real board through its debug probe: pyOCD, or OpenOCD if pyOCD is not installed."""
import shutil
import subprocess

from tinyrnn.quantize.errors import FlashFailed, ToolMissing


def flash_probe(board, elf):
    """Program `elf` into `board` (board.toml [runner]: pyocd_target, openocd_args)."""
    runner = board.runner
    if shutil.which("pyocd"):
        cmd = ["pyocd", "flash", "-t", runner["pyocd_target"], str(elf)]
    elif shutil.which("openocd"):
        cmd = ["openocd", *runner["openocd_args"], "-c", f"program {elf} verify reset exit"]
    else:
        raise ToolMissing(f"{board.name}: neither pyocd nor openocd is installed "
                          "(pip install pyocd, or apt-get install openocd)")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).strip().splitlines()
        probe = [line for line in text if "probe" in line.lower() or "no device" in line.lower()
                 or "unable to" in line.lower()]
        raise FlashFailed(f"{cmd[0]} failed on {board.name}: "
                          f"{(probe or text or ['no output'])[-1].strip()} (is the board plugged in?)")
    print(f"flashed {elf} to {board.name} with {cmd[0]}")
