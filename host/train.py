"""`python host/train.py` from a clone: the same command as `tinyrnn train` (see --help)."""
import sys
from pathlib import Path

try:
    import tinyrnn.host  # noqa: F401  (installed: pip install -e . or make install)
except ImportError:
    # A clone without the package installed: the repository root is the `tinyrnn` namespace.
    import types
    sys.modules["tinyrnn"] = types.ModuleType("tinyrnn")
    sys.modules["tinyrnn"].__path__ = [str(Path(__file__).resolve().parent.parent)]

from tinyrnn.host.commands.base import run_command  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_command("tinyrnn.host.commands.train", sys.argv[1:], prog="python host/train.py"))
