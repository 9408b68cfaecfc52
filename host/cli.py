"""`tinyrnn <command>`: the kit's one command line (a table of commands, in the style of git or mpremote)."""
import importlib
import sys

from tinyrnn.host.commands.base import run_command, summary

# name -> module; each module follows host/commands/base.py. Order is the order of the chain.
COMMANDS = {
    "train": "tinyrnn.host.commands.train",
    "search": "tinyrnn.host.commands.search",
    "import": "tinyrnn.host.commands.import_",
    "export": "tinyrnn.host.commands.export",
    "predict": "tinyrnn.host.commands.predict",
    "boards": "tinyrnn.host.commands.boards",
    "flash": "tinyrnn.host.commands.flash",
    "record": "tinyrnn.host.commands.record",
    "harness": "tinyrnn.host.commands.harness",
    "hwtest": "tinyrnn.host.commands.hwtest",
    "demo": "tinyrnn.host.commands.demo",
    "bench": "tinyrnn.host.commands.bench",
    "mpserve": "tinyrnn.host.commands.mpserve",
    "monitor": "tinyrnn.host.commands.monitor",
}


def usage() -> str:
    lines = ["usage: tinyrnn <command> [options]   (tinyrnn <command> --help for its options and examples)", "",
             "Train small GRU/LSTM models, run them bit-exactly on microcontrollers, and prove it over the serial "
             "line.",
             "", "commands:"]
    for name, module in COMMANDS.items():
        lines.append(f"  {name:9s} {summary(importlib.import_module(module))}")
    return "\n".join(lines)


def main(argv=None) -> int:
    try:
        return dispatch(sys.argv[1:] if argv is None else list(argv))
    except BrokenPipeError:
        # The reader went away (`tinyrnn --help | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0


def dispatch(argv: list) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command '{name}' — use one of: {', '.join(COMMANDS)} (tinyrnn --help)",
              file=sys.stderr)
        return 2
    return run_command(COMMANDS[name], rest, prog=f"tinyrnn {name}")


if __name__ == "__main__":
    sys.exit(main())
