"""The options several commands share, each defined once (in the way pyOCD defines its common option groups).

    --model DIR     an artifact directory (docs/artifacts.md), in every command that takes one
    --board BOARD   a board name from boards/ (tinyrnn boards list)
    --port PORT     a serial port URL (/dev/ttyACM0, /dev/pts/N, socket://h:p)
    --baud N        the serial baud rate that goes with --port
    --out DIR       the directory a command writes (FILE where a command writes one file: add_out_file)

A command adds one with its own default, whether it is required, and a short note on what the option does
there; the name, the metavar, the value's type and the first words of the help are always these. Whether the
named thing exists (an artifact directory, a board) is checked where it is opened (Artifact.open,
load_board/load_target), which say what is wrong in one line.
"""
from pathlib import Path

from tinyrnn.host.link.transport import DEFAULT_BAUD


def _help(what: str, note: str | None, default) -> str:
    """`what (note)`, `what (default X)` or `what (note; default X)`; argparse fills %(default)s."""
    extras = [part for part in (note, "default %(default)s" if default is not None else None) if part]
    return what + (f" ({'; '.join(extras)})" if extras else "")


def artifact_dir(text: str) -> Path | None:
    """argparse type of --model: a Path; an empty value means no model, as an omitted option does."""
    return Path(text) if text else None


def add_model(parser, *, default=None, required: bool = False, note: str | None = None):
    """--model DIR: an artifact directory, always."""
    return parser.add_argument("--model", metavar="DIR", type=artifact_dir, default=default, required=required,
                               help=_help("artifact directory", note, default))


def add_board(parser, *, default=None, repeatable: bool = False, what: str = "board",
              note: str | None = "tinyrnn boards list"):
    """--board BOARD: a board name; with `repeatable`, each use adds one to a list."""
    return parser.add_argument("--board", metavar="BOARD", default=default,
                               action="append" if repeatable else "store", help=_help(what, note, default))


PORT_HELP = "serial port URL (/dev/ttyACM0, /dev/pts/N, socket://h:p)"


def add_port(parser, *, required: bool = False, what: str = PORT_HELP):
    """--port PORT: where a board answers, as pyserial's serial_for_url takes it."""
    return parser.add_argument("--port", metavar="PORT", required=required, help=what)


def add_baud(parser):
    """--baud N: the rate for --port (the board's board.toml [uart] baud)."""
    return parser.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                               help="serial baud rate, as in the board's board.toml [uart] baud (default %(default)s; "
                                    "ignored by ptys and sockets)")


def add_out(parser, *, what: str, default_note: str):
    """--out DIR: the directory a command writes (its default is computed by the command, so it is described)."""
    return parser.add_argument("--out", metavar="DIR", help=f"{what} (default {default_note})")


def add_replaceable_out(parser, *, what: str, default_note: str):
    """--out DIR and --force: a directory a command makes whole, never over an existing one unless told to."""
    add_out(parser, what=what, default_note=default_note)
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")


def add_out_file(parser, *, what: str, required: bool = False):
    """--out FILE: the one file a command writes or appends to (`tinyrnn record`), where others write a directory."""
    return parser.add_argument("--out", metavar="FILE", required=required, help=what)
