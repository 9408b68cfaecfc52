"""ser2net (Debian's `ser2net`, 4.x) in front of a serial port, as a lab's serial server is: for tests of the
kit over `rfc2217://` and `socket://` on loopback. Started and stopped by its pid, restartable on the same
ports (what a lab host does when ser2net is restarted under a running job)."""
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port():
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    """True once something listens on 127.0.0.1:port. Read from /proc/net/tcp, not by connecting: ser2net opens
    the device for every connection, and a probe's connection still closing would make it refuse the next one."""
    listen_state = "0A"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == listen_state and int(local.split(":")[1], 16) == port:
            return True
    return False


class SerialServer:
    """ser2net serving `device` (a tty or pty) twice: RFC 2217 on one port, raw TCP on another."""

    def __init__(self, device, work_dir: Path):
        self.device = device
        self.work_dir = Path(work_dir)
        self.rfc2217_port, self.tcp_port = free_port(), free_port()
        self.config = self.work_dir / "ser2net.yaml"
        self.config.write_text(
            "%YAML 1.1\n---\n"
            "connection: &rfc2217\n"
            f"  accepter: telnet(rfc2217),tcp,127.0.0.1,{self.rfc2217_port}\n"
            f"  connector: serialdev,{device},115200n81,local\n"
            "connection: &raw\n"
            f"  accepter: tcp,127.0.0.1,{self.tcp_port}\n"
            f"  connector: serialdev,{device},115200n81,local\n")
        self._proc = None

    @staticmethod
    def program():
        """ser2net's path (Debian installs it in /usr/sbin, often not on a user's PATH), or None."""
        return shutil.which("ser2net") or shutil.which("ser2net", path="/usr/sbin")

    @classmethod
    def available(cls):
        return cls.program() is not None

    @property
    def rfc2217_url(self):
        return f"rfc2217://127.0.0.1:{self.rfc2217_port}"

    @property
    def socket_url(self):
        return f"socket://127.0.0.1:{self.tcp_port}"

    def start(self, timeout=10.0):
        log = open(self.work_dir / "ser2net.log", "ab")
        self._proc = subprocess.Popen([self.program(), "-n", "-c", str(self.config), "-P", str(self.work_dir / "pid")],
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while not (_listening(self.rfc2217_port) and _listening(self.tcp_port)):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ser2net did not start: {(self.work_dir / 'ser2net.log').read_text()}")
            time.sleep(0.05)
        return self

    def stop(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
