"""Commands stay thin: the shared options have one definition (host/commands/options.py), `--model` is an artifact
directory in every command, and the library below host/commands never takes an argparse Namespace."""
import ast
import importlib
from pathlib import Path

import pytest

from tinyrnn.host import cli
from tinyrnn.host.commands import options
from tinyrnn.host.commands.base import make_parser

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parent.parent


def actions(parser):
    """Every option of a parser and of its subcommands' parsers."""
    for action in parser._actions:
        yield action
        for sub in (action.choices or {}).values() if hasattr(action, "_name_parser_map") else ():
            yield from actions(sub)


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_model_is_always_an_artifact_directory(command):
    parser = make_parser(importlib.import_module(cli.COMMANDS[command]), f"tinyrnn {command}")
    for action in actions(parser):
        if "--model" in action.option_strings:
            assert action.type is options.artifact_dir and action.metavar == "DIR", command
            assert action.help.startswith("artifact directory"), command


def test_boards_fit_names_its_label_for_what_it_is():
    parser = make_parser(importlib.import_module(cli.COMMANDS["boards"]), "tinyrnn boards")
    args = parser.parse_args(["fit", "qemu-mps2-an386", "app.elf", "--label", "gru32"])
    assert args.label == "gru32"


def test_export_takes_the_model_the_same_way_in_every_mode():
    module = importlib.import_module(cli.COMMANDS["export"])
    parser = make_parser(module, "tinyrnn export")
    by_position = parser.parse_args(["build/m", "--lib", "out"])
    by_option = parser.parse_args(["--model", "build/m", "--lib", "out"])
    assert module._model_dir(by_position) == module._model_dir(by_option) == Path("build/m")
    assert module._model_dir(parser.parse_args(["--model", "build/m"])) == Path("build/m")


def test_empty_model_means_no_model():
    assert options.artifact_dir("") is None and options.artifact_dir("d") == Path("d")


def _own_definitions(path: Path) -> list[str]:
    """`add_argument("--model"|"--board"|"--port"|"--out"|"--baud", ...)` calls written out in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and first.value in ("--model", "--board", "--port", "--out", "--baud"):
                found.append(f"{path.name}: {first.value}")
    return found


def test_shared_options_are_defined_once():
    commands = sorted((REPO / "host" / "commands").glob("*.py"))
    assert [hit for path in commands if path.name != "options.py" for hit in _own_definitions(path)] == []


def test_no_namespace_below_the_commands():
    """Library functions take typed settings: none outside host/commands has an `args` parameter."""
    offenders = []
    for folder in ("host", "quantize"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "commands" in path.relative_to(REPO).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if any(a.arg == "args" for a in node.args.args + node.args.kwonlyargs):
                        offenders.append(f"{path.relative_to(REPO)}:{node.name}")
    assert offenders == []
