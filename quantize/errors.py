"""The errors tinyrnn reports to its user: one hierarchy, one message format.

Every condition a user can act on is a `TinyRNNError`; the command line (tinyrnn.host.cli) prints it as one line,
`error: <what is wrong> — <what to do>`, and exits with code 2. Anything else is a bug and keeps its traceback.
"""


class TinyRNNError(Exception):
    """Base class: a condition the user can act on. `fix`, when given, says what to do about it."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(f"{message} — {fix}" if fix else message)
        self.what, self.fix = message, fix

    def one_line(self) -> str:
        # One line even if a message quotes a multi-line value.
        return " ".join(f"error: {self}".split())


class UserError(TinyRNNError):
    """A mistake in the user's input (bad option, bad file, bad data), always with a hint on how to fix it."""

    def __init__(self, what: str, fix: str):
        super().__init__(what, fix)


class BoardDataError(TinyRNNError, ValueError):
    """A board.toml that is missing, malformed, or inconsistent (or an unknown board name)."""


class ToolMissing(TinyRNNError):
    """An external program (qemu-system-arm, pyocd, openocd, arm-none-eabi-gcc, MicroPython) is not installed."""


class BuildFailed(TinyRNNError):
    """The firmware (or the model's C) could not be built."""


class FlashFailed(TinyRNNError):
    """A probe could not program the board."""


# --- the serial link ----------------------------------------------------------------------------------

class PortError(TinyRNNError):
    """The port cannot be opened or has gone away (unplugged board, stopped emulator)."""


class BoardNotAnswering(TinyRNNError):
    """No valid reply within the timeout, after the allowed retries."""


class GarbageError(TinyRNNError):
    """Bytes arrived but never formed a valid reply (wrong baud rate? another program on the port?)."""


class ErrorReply(TinyRNNError):
    """The board answered a request with an error reply (code and detail from docs/protocol.md)."""

    def __init__(self, message, code=None, detail=None, extra=b""):
        super().__init__(message)
        self.code, self.detail, self.extra = code, detail, extra


class HashMismatch(ErrorReply):
    """The board runs another model than the artifact directory describes."""


class PortBusy(PortError):
    """Another program holds the port (a second harness or test run on the same board)."""


class MalformedReply(TinyRNNError):
    """A reply whose CRC is right but whose content is not what the protocol says (a firmware that speaks
    another protocol version, or a bug): never retried, never guessed at."""


class LinkFailure(TinyRNNError):
    """The link lost too many requests and replies to go on, after every retry and re-run allowed."""


class BoardReset(TinyRNNError):
    """The board rebooted (its session is gone): the recurrent state it held is lost."""


class SessionTaken(TinyRNNError):
    """Another host opened a session on the board: it no longer serves this one."""
