"""A byte link to a board: any URL pyserial's `serial_for_url` understands.

    /dev/ttyUSB0, /dev/ttyACM0    a USB serial adapter or a probe's virtual COM port
    /dev/pts/N                    an emulator's pty (QEMU -serial pty)
    socket://127.0.0.1:PORT       QEMU -serial tcp:...,server=on, or a lab's serial server (ser2net) in raw TCP mode
    rfc2217://HOST:PORT           a lab's serial server speaking RFC 2217 (ser2net `telnet(rfc2217)`, labgrid)
    loop://                       pyserial's loopback, for unit tests of the protocol layer

The transport only moves bytes and turns pyserial's exceptions into `PortError`; framing, timeouts per
request and retries are the protocol layer's job (host/link/client.py).

A device port (not a `scheme://` URL) is opened exclusively (pyserial's `exclusive`: an flock on the tty), so
a second harness or test run on the same board gets `PortBusy` instead of interleaving its requests.
"""

import os
import re
import termios
from contextlib import contextmanager
from errno import ENOTTY

import serial

from tinyrnn.host.link.port_users import other_users
from tinyrnn.quantize.errors import PortBusy, PortError

DEFAULT_BAUD = 115200
# What pyserial lets out when a port fails: its own SerialException (an OSError), a plain OSError from an ioctl
# (in_waiting), and termios.error, which is not an OSError: tcdrain (flush) and tcsetattr (open) on a pty whose
# emulator was just killed raise it.
PORT_FAILURES = (serial.SerialException, OSError, termios.error)
WRITE_TIMEOUT = 5.0
# pyserial's RFC 2217 client raises NotImplementedError at open when given a write timeout. Its writes go to a
# TCP socket the server drains, so they cannot hang on a stuck adapter the way a local tty write can.
SCHEMES_WITHOUT_WRITE_TIMEOUT = ("rfc2217://",)
# An RFC 2217 server in front of a pty (ser2net serving an emulated board) never acknowledges DTR/RTS changes,
# so pyserial's client waits out its network timeout and fails at open. The protocol uses only TX and RX: do
# not wait for those acknowledgements.
RFC2217_OPTIONS = "ign_set_control"


NETWORK_SCHEMES = ("socket://", "rfc2217://")


def server_reconnect(url):
    """For a serial server's URL (socket://, rfc2217://): a `reconnect` for the link client (client.py) that names
    the same URL again, since a restarted server listens where it did. None for any other port."""
    if not url.startswith(NETWORK_SCHEMES):
        return None
    return lambda: url


def url_for_pyserial(url):
    """The URL as given, with the RFC 2217 options the kit needs added (a user's own options kept)."""
    if not url.startswith("rfc2217://") or RFC2217_OPTIONS in url:
        return url
    return f"{url}{'&' if '?' in url else '?'}{RFC2217_OPTIONS}"


def port_options(url, exclusive=True):
    """serial_for_url's keyword options for this URL, beyond the baud rate and read timeout."""
    options = {}
    if not url.startswith(SCHEMES_WITHOUT_WRITE_TIMEOUT):
        options["write_timeout"] = WRITE_TIMEOUT
    if exclusive and "://" not in url:
        options["exclusive"] = True
    return options


OPEN_FIX = ("check the port: tinyrnn flash prints an emulator's (/dev/pts/N), a USB board is usually /dev/ttyACM0 "
            "or /dev/ttyUSB0, a lab server socket://host:port")


def _reason(e: Exception) -> str:
    """The cause once: pyserial repeats the errno text and the port inside its own messages ("could not open port
    socket://h:p: [Errno 111] Connection refused", "Could not configure port: (25, 'Inappropriate ioctl ...')")."""
    errno = getattr(e, "errno", None)
    if isinstance(errno, int):
        return os.strerror(errno)
    text = str(e)
    match = re.search(r"\[Errno (\d+)\] (.+)$|\((\d+), '(.+)'\)$", text)
    if match is None:
        return text
    number = int(match.group(1) or match.group(3))
    cause = match.group(2) or match.group(4)
    if number == ENOTTY:
        return f"not a serial port: {cause}"
    return cause


GONE_FIX = "the board or emulator went away: replug it or restart it (tinyrnn flash)"


@contextmanager
def raw_port(url, baud=DEFAULT_BAUD, timeout=0.2):
    """A plain pyserial port for talk below the protocol (MicroPython's raw REPL): not locked, no write timeout
    (a script goes in one write). A port that cannot be opened, or fails while the block uses it, raises PortError
    (one line and what to do), not pyserial's exceptions."""
    try:
        port = serial.serial_for_url(url_for_pyserial(url), baudrate=baud, timeout=timeout)
    except (*PORT_FAILURES, ValueError) as e:
        raise PortError(f"cannot open {url} ({_reason(e)})", OPEN_FIX) from None
    try:
        yield port
    except PORT_FAILURES as e:
        raise PortError(f"{url} failed ({_reason(e)})", GONE_FIX) from None
    finally:
        try:
            port.close()
        except PORT_FAILURES:
            pass


class Transport:
    """An open port. Use as a context manager, or call close()."""

    def __init__(self, url, baud=DEFAULT_BAUD, read_chunk_timeout=0.05, exclusive=True):
        self.url = url
        self.baud = baud
        try:
            # A short read timeout: callers loop until their own deadline, which keeps them responsive.
            self._port = serial.serial_for_url(url_for_pyserial(url), baudrate=baud, timeout=read_chunk_timeout,
                                               **port_options(url, exclusive))
        except serial.SerialException as e:
            if "exclusively lock" in str(e):
                holders = ", ".join(other_users(url)) or "another program (a harness or test run?)"
                raise PortBusy(f"{url} is busy: {holders} has it open",
                               "one client per board: wait for it to finish or stop it") from None
            raise PortError(f"cannot open {url} ({_reason(e)})", OPEN_FIX) from None
        except (OSError, termios.error, ValueError) as e:
            raise PortError(f"cannot open {url} ({_reason(e)})", OPEN_FIX) from None

    def write(self, data):
        try:
            self._port.write(data)
            self._port.flush()
        except PORT_FAILURES as e:
            raise PortError(f"write to {self.url} failed ({_reason(e)})", GONE_FIX) from None

    def read_some(self, max_bytes=4096):
        """Whatever arrives within the short read timeout (possibly b"")."""
        try:
            waiting = self._port.in_waiting
            return self._port.read(max(1, min(waiting, max_bytes)))
        except PORT_FAILURES as e:
            raise PortError(f"read from {self.url} failed ({_reason(e)})", GONE_FIX) from None

    def close(self):
        try:
            self._port.close()
        except PORT_FAILURES:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
