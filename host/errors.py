"""The errors the host tools raise about boards and links. The CLIs catch `TinyRNNError` and print its
message on one line; everything else is a bug and keeps its traceback."""


class TinyRNNError(Exception):
    """Base class: a condition the user can act on, with a one-line message."""


class PortError(TinyRNNError):
    """The port cannot be opened or has gone away (unplugged board, stopped emulator)."""


class BoardNotAnswering(TinyRNNError):
    """No valid reply within the timeout, after the allowed retries."""


class GarbageError(TinyRNNError):
    """Bytes arrived but never formed a valid reply (wrong baud rate? another program on the port?)."""


class BoardError(TinyRNNError):
    """The board answered with an error reply (code and detail from docs/protocol.md)."""

    def __init__(self, message, code=None, detail=None, extra=b""):
        super().__init__(message)
        self.code, self.detail, self.extra = code, detail, extra


class HashMismatch(BoardError):
    """The board runs another model than the artifact directory describes."""


class ToolMissing(TinyRNNError):
    """An external program (qemu-system-arm, pyocd, openocd, arm-none-eabi-gcc) is not installed."""


class UserError(TinyRNNError):
    """A mistake in the user's input (bad file, bad option, bad data), with a hint on how to fix it.

    Used by the training CLI (host/train.py): it prints `error: <what> — <fix>` and exits with code 2.
    """

    def __init__(self, what: str, fix: str):
        super().__init__(f"{what} — {fix}")
        self.what = what
        self.fix = fix

    def one_line(self) -> str:
        # Keep it to one line even if a message quotes a multi-line value.
        return " ".join(f"error: {self.what} — {self.fix}".split())
