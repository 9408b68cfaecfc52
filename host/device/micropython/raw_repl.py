"""MicroPython's raw REPL over a serial port (either kind of MicroPython board): run code, or start the tinyrnn
server and wait until it says it is ready; from then on the port speaks only the protocol."""
import time

from tinyrnn.host.link.transport import raw_port
from tinyrnn.quantize.errors import TinyRNNError

READY = b"tinyrnn-ready"
RAW_REPL_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


def _read_until(port, marker, timeout):
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += port.read(256)
    return data


def _raw_repl(port, port_name):
    """Stop whatever runs on the board and enter its raw REPL."""
    port.write(b"\r\x03\x03")                    # stop whatever runs
    _read_until(port, b">>> ", 10.0)
    port.write(b"\x01")                            # raw REPL
    seen = _read_until(port, RAW_REPL_PROMPT, 10.0)
    if RAW_REPL_PROMPT not in seen:
        raise TinyRNNError(f"{port_name}: no MicroPython raw REPL ({seen[-200:]!r})")


def repl_answers(port_name, timeout=2.0):
    """True if MicroPython's REPL answers on port_name: Ctrl-C stops a program, Ctrl-B leaves a raw REPL, and
    either REPL then prints its banner or prompt. (No 0x00 is sent: to a tinyrnn server these bytes are a
    partial frame, discarded at the next delimiter.)"""
    with raw_port(port_name) as port:
        port.reset_input_buffer()
        port.write(b"\r\x03\x02")
        seen = _read_until(port, b">>> ", timeout)
    return b">>> " in seen or b"MicroPython" in seen


def start_server(port_name, code, timeout=60.0):
    """Enter the raw REPL on port_name, run `code`, wait for its READY line. Returns the text the board sent."""
    with raw_port(port_name) as port:
        _raw_repl(port, port_name)
        port.write(code.encode() + b"\x04")
        seen = _read_until(port, READY, timeout)
        if READY not in seen:
            raise TinyRNNError(f"{port_name}: the tinyrnn server did not start: "
                               f"{seen.decode(errors='replace').strip()[-600:]}")
        return seen.decode(errors="replace")


def run_code(port_name, code, timeout=120.0):
    """Run `code` over the raw REPL and return what it printed; its exception, if any, as a TinyRNNError.
    (The raw REPL answers OK, the output, 0x04, the exception text, 0x04, then its prompt.)"""
    with raw_port(port_name) as port:
        _raw_repl(port, port_name)
        port.write(code.encode() + b"\x04")
        seen = _read_until(port, b"\x04>", timeout)
        if not seen.startswith(b"OK") or b"\x04>" not in seen:
            raise TinyRNNError(f"{port_name}: no answer from the raw REPL: {seen[-300:]!r}")
        out, err = seen[2:].split(b"\x04")[:2]
        if err.strip():
            raise TinyRNNError(f"{port_name}: {err.decode(errors='replace').strip().splitlines()[-1]}")
        return out.decode(errors="replace")
