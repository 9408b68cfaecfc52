"""The one convention every `tinyrnn` command follows.

A command is a module in this package with
    a docstring        its first line is the summary `tinyrnn --help` lists; the rest is the description
    EXAMPLES           example lines with {prog} for the command as the user typed it
    add_arguments(p)   its options, on a CommandParser
    run(args) -> int   the work; raises TinyRNNError for anything the user can act on

`run_command` builds the parser, parses, runs, and turns every TinyRNNError into one line on stderr and
exit code 2 (a mistyped option too), so all commands fail the same way.
"""
import argparse
import importlib
import sys

from pathlib import Path

from tinyrnn.quantize.errors import TinyRNNError, UserError


class CommandParser(argparse.ArgumentParser):
    """argparse whose mistakes are a UserError (one line, exit 2), not the usage block."""

    def error(self, message):
        raise UserError(message, f"see {self.prog} --help")


def at_least(minimum, kind=int, exclusive=False):
    """argparse type: a number of `kind` (int or float) >= minimum, or > minimum when `exclusive`."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value < minimum or (exclusive and value == minimum):
            raise argparse.ArgumentTypeError(f"{value} is not {'>' if exclusive else '>='} {minimum}")
        return value
    return parse


def summary(module) -> str:
    return (module.__doc__ or "").strip().splitlines()[0].rstrip(".")


def make_parser(module, prog: str) -> CommandParser:
    doc = (module.__doc__ or "").strip()
    examples = getattr(module, "EXAMPLES", "").format(prog=prog).rstrip()
    parser = CommandParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=f"examples:\n{examples}" if examples else None)
    module.add_arguments(parser)
    return parser


def run_command(module_name: str, argv, prog: str) -> int:
    module = importlib.import_module(module_name)
    try:
        args = make_parser(module, prog).parse_args(argv)
        return module.run(args) or 0
    except TinyRNNError as e:
        print(e.one_line(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted — run the command again to finish", file=sys.stderr)
        return 130


def write_output(path, text: str, option: str) -> None:
    """Write a file the user named with `option`; a path that cannot be written is one line naming it and why."""
    try:
        Path(path).write_text(text)
    except OSError as e:
        raise UserError(f"{option} {path}: cannot write it ({e.strerror or e})",
                        "give a writable file path (its folder must exist)") from None
