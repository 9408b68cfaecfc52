"""The package's rooms import only downward, and no import circle hides anywhere (function-local imports
included). Reads the sources with ast; imports nothing."""

import ast
import re
from pathlib import Path
import pytest

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"host": "tinyrnn.host", "quantize": "tinyrnn.quantize"}

# Room -> the rooms it may import (besides itself). Bottom up: the errors every layer raises, the artifact
# directory's owner and the target table, then quantize (twin < reference < emit < toolchain), then host:
# defaults < formats < link < device < check < training < search < commands < cli.
ALLOWED = {
    "tinyrnn.quantize.errors": set(),
    "tinyrnn.quantize.artifact": {"tinyrnn.quantize.errors"},
    "tinyrnn.quantize.sources": set(),
    # The target table (core -> compiler flags): read by the builds, the C library and the board data.
    "tinyrnn.quantize.targets": set(),
    "tinyrnn.quantize.twin": {"tinyrnn.quantize.sources", "tinyrnn.quantize.artifact", "tinyrnn.quantize.errors"},
    "tinyrnn.quantize.reference": {"tinyrnn.quantize.twin", "tinyrnn.quantize.artifact", "tinyrnn.quantize.errors"},
    "tinyrnn.quantize.emit": {"tinyrnn.quantize.twin", "tinyrnn.quantize.reference", "tinyrnn.quantize.sources",
                              "tinyrnn.quantize.targets", "tinyrnn.quantize.toolchain.build",
                              "tinyrnn.quantize.artifact", "tinyrnn.quantize.errors"},
    "tinyrnn.quantize.toolchain": {"tinyrnn.quantize.twin", "tinyrnn.quantize.reference", "tinyrnn.quantize.emit",
                                   "tinyrnn.quantize.sources", "tinyrnn.quantize.targets",
                                   "tinyrnn.quantize.artifact", "tinyrnn.quantize.errors"},
    "tinyrnn.host.defaults": set(),
    # The one reader of the documented sequence files (numpy and the standard library only).
    "tinyrnn.host.formats": {"tinyrnn.quantize.errors"},
    "tinyrnn.host.link": {"tinyrnn.quantize.errors"},
    "tinyrnn.host.report": {"tinyrnn.quantize.artifact", "tinyrnn.quantize.errors"},
    "tinyrnn.host.device": {"tinyrnn.quantize.errors", "tinyrnn.host.defaults", "tinyrnn.host.link",
                            "tinyrnn.quantize"},
    "tinyrnn.host.check": {"tinyrnn.quantize.errors", "tinyrnn.host.defaults", "tinyrnn.host.formats",
                           "tinyrnn.host.link", "tinyrnn.host.device", "tinyrnn.host.report", "tinyrnn.quantize"},
    "tinyrnn.host.training": {"tinyrnn.quantize.errors", "tinyrnn.host.formats", "tinyrnn.host.report",
                              "tinyrnn.quantize"},
    # Importers read models trained elsewhere and write artifacts through the training pipeline's stages.
    "tinyrnn.host.importers": {"tinyrnn.quantize.errors", "tinyrnn.host.training", "tinyrnn.host.report",
                               "tinyrnn.quantize"},
    # The search trains (training), measures (quantize) and reads board data (device.boards only).
    "tinyrnn.host.search": {"tinyrnn.quantize.errors", "tinyrnn.host.training", "tinyrnn.host.device.boards",
                            "tinyrnn.host.report", "tinyrnn.quantize"},
    "tinyrnn.host.commands": {"tinyrnn.quantize.errors", "tinyrnn.host.defaults", "tinyrnn.host.link",
                              "tinyrnn.host.device", "tinyrnn.host.check", "tinyrnn.host.report",
                              "tinyrnn.host.training", "tinyrnn.host.search", "tinyrnn.host.importers",
                              "tinyrnn.quantize"},
    "tinyrnn.host.cli": {"tinyrnn.host.commands"},
    "tinyrnn.host.train": {"tinyrnn.host.commands"},
}


def modules():
    for folder, package in ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            yield name, path


def imports(path, known):
    """Every tinyrnn module `path` imports, anywhere in the file (`from pkg import mod` counts as pkg.mod)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinyrnn."):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("tinyrnn."))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use tinyrnn.* names")
    return out


def room(module):
    return max((r for r in ALLOWED if module == r or module.startswith(r + ".")), key=len, default=None)


def graph():
    names = dict(modules())
    edges = {}
    for name, path in names.items():
        edges[name] = {m for m in imports(path, names) if m in names and m != name}
    return edges


def test_every_module_has_a_room():
    assert [name for name, _ in modules() if room(name) is None and not name.endswith(("host", "quantize"))] == []


def test_rooms_import_only_downward():
    wrong = []
    for name, targets in graph().items():
        mine = room(name)
        for target in targets:
            theirs = room(target)
            if theirs and theirs != mine and not any(target == a or target.startswith(a + ".")
                                                     for a in ALLOWED.get(mine, ())):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_no_import_circle():
    edges = graph()
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_every_package_folder_is_in_the_wheel():
    """pyproject.toml lists the packages by hand (one namespace over fixed folders): a new folder must be there."""
    import tomllib
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {name for name, path in modules() if path.name == "__init__.py"}
    assert sorted(folders - listed) == []


def short_name(module):
    """A room as the README's table names it: tinyrnn.quantize.errors -> errors, tinyrnn.quantize -> quantize."""
    for prefix in ("tinyrnn.quantize.", "tinyrnn.host.", "tinyrnn."):
        if module.startswith(prefix):
            return module.removeprefix(prefix)
    return module


def test_the_readme_table_of_rooms_says_what_each_may_import():
    """README.md's "may import" column is this file's ALLOWED, room by room (a reader trusts the table)."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index("| folder | holds | may import |") + 2
    table = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        imports_listed = set() if cells[2] == "—" else {s.strip() for s in cells[2].split(",")}
        for path in re.findall(r"`([^`]+)`", cells[0]):
            table["tinyrnn." + path.removesuffix("/").removesuffix(".py").replace("/", ".")] = imports_listed
    assert set(table) == set(ALLOWED), "README's rooms vs ALLOWED: " + str(set(table) ^ set(ALLOWED))
    wrong = {room: (table[room], sorted(map(short_name, allowed)))
             for room, allowed in ALLOWED.items() if table[room] != set(map(short_name, allowed))}
    assert wrong == {}, "README lists, ALLOWED says: " + str(wrong)
