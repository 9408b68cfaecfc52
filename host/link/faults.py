"""A noisy serial line on demand: a pty proxy that corrupts, drops or duplicates bytes at a chosen rate.

    proxy = FaultProxy("/dev/pts/4", p=1e-3, kinds=("corrupt", "drop", "duplicate"), seed=1)
    proxy.start()                 # proxy.port is a new pty: give it to the harness instead of /dev/pts/4
    ...
    proxy.stop()

Both ends are real ptys (the board's, e.g. QEMU's `-serial pty`, and one the proxy opens), so everything
above them (pyserial, the exclusive lock, the client's timeouts) runs exactly as on a real port. Each byte,
in each direction, independently suffers each fault kind with probability `p` (seeded: a run is repeatable up to
the timing of reads): "corrupt" flips one random bit, "drop" loses it, "duplicate" sends it twice.
`on_host_frame(n)`, if given, is called (from the relay thread) each time the n-th complete frame from the host
has been passed on to the board (counting 0x00 delimiters), e.g. to reset the board at a chosen moment.
"""

import os
import random
import select
import threading
import tty

FAULT_KINDS = ("corrupt", "drop", "duplicate")


class _Direction:
    def __init__(self, p, kinds, seed):
        self.rng = random.Random(seed)
        self.p, self.kinds = p, kinds
        self.bytes = 0
        self.faults = dict.fromkeys(FAULT_KINDS, 0)

    def mangle(self, data):
        if not self.p:
            self.bytes += len(data)
            return data
        out = bytearray()
        for byte in data:
            self.bytes += 1
            copies = 1
            for kind in self.kinds:
                if self.rng.random() < self.p:
                    self.faults[kind] += 1
                    if kind == "corrupt":
                        byte ^= 1 << self.rng.randrange(8)
                    elif kind == "drop":
                        copies = 0
                    else:
                        copies += 1
            out += bytes([byte]) * copies
        return bytes(out)


class FaultProxy:
    """Relay bytes between `upstream` (a board's pty) and a new pty (`self.port`), with faults."""

    def __init__(self, upstream, p=0.0, kinds=FAULT_KINDS, seed=0, on_host_frame=None):
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        self.upstream = upstream
        self.to_board = _Direction(p, tuple(kinds), seed * 2 + 1)
        self.to_host = _Direction(p, tuple(kinds), seed * 2 + 2)
        self.on_host_frame = on_host_frame
        self.host_frames = 0
        self.port = None
        self._fds = []
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._up = os.open(self.upstream, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._up)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)          # the pair shares its line discipline: raw, all 256 values pass
        os.set_blocking(self._master, False)
        self._fds = [self._up, self._master, self._slave]   # the slave stays open: no EIO when the host closes
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._relay, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def _relay(self):
        pending = {self._up: b"", self._master: b""}        # bytes waiting to be written to that fd
        while not self._stop.is_set():
            writers = [fd for fd, data in pending.items() if data]
            try:
                readable, writable, _ = select.select([self._up, self._master], writers, [], 0.05)
            except (OSError, ValueError):
                return
            for fd in writable:
                try:
                    n = os.write(fd, pending[fd])
                except BlockingIOError:
                    continue
                except OSError:
                    return
                pending[fd] = pending[fd][n:]
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError:          # the board's pty went away (emulator stopped): the line is dead
                    if fd == self._up:
                        return
                    continue
                if fd == self._master:
                    pending[self._up] += self.to_board.mangle(data)
                    frames = data.count(0)
                    for _ in range(frames):
                        self.host_frames += 1
                        if self.on_host_frame:
                            self.on_host_frame(self.host_frames)
                else:
                    pending[self._master] += self.to_host.mangle(data)

    def stats(self):
        return {"to_board_bytes": self.to_board.bytes, "to_board_faults": dict(self.to_board.faults),
                "to_host_bytes": self.to_host.bytes, "to_host_faults": dict(self.to_host.faults)}

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
