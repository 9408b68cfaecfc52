"""The docs state what the code does: versions, sizes and ids quoted in the docs equal the code's constants,
every repository path a doc cites exists, and every doc section a file cites by name has a heading. A failure
names the file, the line and what it says, so a stale citation is fixed where it stands (or the constant's
change is documented)."""
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinyrnn.host.link import spec
from tinyrnn.quantize.emit.c_library import platformio_manifest
from tinyrnn.quantize.emit import micropython as mp_images
from tinyrnn.quantize.emit.c_code import LAYOUTS
from tinyrnn.quantize.twin import params

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parents[1]
PROTOCOL_DOC = REPO / "docs" / "protocol.md"
QUANTIZATION_DOC = REPO / "docs" / "quantization.md"

# The docs whose path citations are checked (paths relative to the repository's root).
CITING_DOCS = sorted(REPO.glob("docs/*.md")) + [REPO / "README.md", REPO / "CONTRIBUTING.md",
                                                 REPO / "boards" / "README.md"]
# A citation is a path that starts at one of the repository's top-level folders ...
ROOTS = ("host", "quantize", "firmware", "boards", "tests", "docs")
CITATION = re.compile(r"(?<![\w./-])((?:%s)/[\w./{},-]*)" % "|".join(ROOTS))
# ... or one of its top-level files.
TOP_FILES = re.compile(r"`(README\.md|CONTRIBUTING\.md|LICENSE|Makefile|pyproject\.toml)`")


def _lines(doc):
    return list(enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1))


def _stated(doc, pattern):
    """Every (line number, integer) the doc states with `pattern` (one group: the number, commas allowed)."""
    found = [(n, int(m.group(1).replace(",", ""), 0)) for n, line in _lines(doc) for m in re.finditer(pattern, line)]
    assert found, f"{doc.relative_to(REPO)}: nothing matches {pattern!r} any more; update tests/test_docs.py"
    return found


def _assert_all(doc, pattern, expected, what):
    wrong = [f"{doc.relative_to(REPO)}:{n} says {value}" for n, value in _stated(doc, pattern) if value != expected]
    assert not wrong, f"{what} is {expected} in the code; " + "; ".join(wrong)


# ---- docs/protocol.md against host/link/spec.py ----------------------------------------------------------

@pytest.mark.parametrize("pattern", [
    r"^# The serial protocol \(version (\d+)\)",
    r"\*\*version\*\* = (\d+)",
    r"^\| protocol_version \| u8 \| (\d+)",
    r"\| BAD_VERSION \| version is not (\d+)",
])
def test_protocol_doc_states_the_protocol_version(pattern):
    _assert_all(PROTOCOL_DOC, pattern, spec.PROTOCOL_VERSION, "PROTOCOL_VERSION (host/link/spec.py)")


@pytest.mark.parametrize("pattern, value, what", [
    (r"### INFO record \(HELLO reply, (\d+) bytes\)", spec.INFO_SIZE, "INFO_SIZE"),
    (r"### STATS record \(STATS reply, (\d+) bytes\)", spec.STATS_SIZE, "STATS_SIZE"),
    (r"at most \*\*(\d+)\*\* \(`MAX_PAYLOAD`\)", spec.MAX_PAYLOAD, "MAX_PAYLOAD"),
    (r"A decoded frame is at most (\d+) bytes", spec.MAX_FRAME, "MAX_FRAME"),
    (r"an encoded one (\d+) \(`MAX_ENCODED_FRAME`\)", spec.MAX_ENCODED_FRAME, "MAX_ENCODED_FRAME"),
])
def test_protocol_doc_states_the_record_and_frame_sizes(pattern, value, what):
    _assert_all(PROTOCOL_DOC, pattern, value, f"{what} (host/link/spec.py)")


def _table_rows(doc, first_cell):
    """{name: number} of the doc's table rows `| <number> | <NAME> | ...` whose first cell matches."""
    return {m.group(2): int(m.group(1), 0) for _, line in _lines(doc)
            for m in [re.match(r"^\| (%s) \| ([A-Z_]+) \|" % first_cell, line)] if m}


def test_protocol_doc_lists_the_commands_and_error_codes_of_the_code():
    assert _table_rows(PROTOCOL_DOC, r"0x[0-9A-Fa-f]{2}") == spec.COMMANDS
    assert _table_rows(PROTOCOL_DOC, r"\d+") == spec.ERRORS


def test_the_micropython_server_claims_no_other_protocol_version():
    server = REPO / "firmware" / "micropython" / "tinyrnn_server.py"
    claims = [(n, int(m.group(1))) for n, line in _lines(server) if line.startswith("#")
              for m in re.finditer(r"protocol (?:v|version )(\d+)", line)]
    wrong = [f"tinyrnn_server.py:{n} says version {v}" for n, v in claims if v != spec.PROTOCOL_VERSION]
    assert not wrong, f"PROTOCOL_VERSION is {spec.PROTOCOL_VERSION}; " + "; ".join(wrong)


# ---- docs/quantization.md against the kernel's file formats ------------------------------------------------

def test_kernel_bin_layout_in_the_spec_matches_the_writer():
    text = QUANTIZATION_DOC.read_text(encoding="utf-8")
    assert f"magic `{params.KERNEL_BIN_MAGIC.decode()}`" in text
    _assert_all(QUANTIZATION_DOC, r"\| u8 \| file format \((\d+)\)", params.KERNEL_BIN_FORMAT,
                "KERNEL_BIN_FORMAT (quantize/twin/images.py)")
    _assert_all(QUANTIZATION_DOC, r"kernel spec version \((\d+)", params.KERNEL_SPEC_VERSION,
                "KERNEL_SPEC_VERSION (quantize/twin/images.py)")


def test_tables_bin_layout_in_the_spec_matches_the_writer():
    text = QUANTIZATION_DOC.read_text(encoding="utf-8")
    assert f"magic `{mp_images.TABLES_BIN_MAGIC.decode()}`" in text
    _assert_all(QUANTIZATION_DOC, r"`TRNA`; u8 file format \((\d+)\)", mp_images.TABLES_BIN_FORMAT,
                "TABLES_BIN_FORMAT (quantize/emit/micropython.py)")
    _assert_all(QUANTIZATION_DOC, r"`tables.bin` is ([\d,]+) bytes", len(mp_images.tables_bytes()),
                "tables.bin's size")


def test_c_layout_version_in_the_spec_matches_the_generator():
    """The spec names exactly the generator's weight layouts (`TINYRNN_C_LAYOUT_<n>`, quantize/emit/c_code.py)."""
    named = {int(n) for n in re.findall(r"`TINYRNN_C_LAYOUT_(\d+)`", QUANTIZATION_DOC.read_text())}
    assert named == set(LAYOUTS), f"{QUANTIZATION_DOC} names layouts {sorted(named)}, the generator {LAYOUTS}"


# ---- every path a doc cites exists ----------------------------------------------------------------------

def _expand_braces(path):
    """`a/b.{h,c}` -> [`a/b.h`, `a/b.c`] (one brace group is all the docs use)."""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [path[:m.start()] + part + path[m.end():] for part in m.group(1).split(",")]


def cited_paths(text):
    """(line number, path) of every repository path a doc's text cites."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        for m in CITATION.finditer(line):
            path = m.group(1).rstrip(".,:;-")
            if "{" in path and "}" not in path:
                path = path[:path.index("{")]
            out += [(n, p) for p in _expand_braces(path)]
        out += [(n, m.group(1)) for m in TOP_FILES.finditer(line)]
    return out


def test_the_citation_scanner_finds_what_a_doc_cites():
    sample = ("See `host/link/spec.py`, firmware/kernels/tr_tables.{h,c}, `LICENSE` and tests/hw.\n"
              "Not `tinyrnn.host.link.spec`, not ../shared/host/x, not build/host/y.\n")
    assert cited_paths(sample) == [(1, "host/link/spec.py"), (1, "firmware/kernels/tr_tables.h"),
                                   (1, "firmware/kernels/tr_tables.c"), (1, "tests/hw"), (1, "LICENSE")]


@pytest.mark.parametrize("doc", CITING_DOCS, ids=lambda d: str(d.relative_to(REPO)))
def test_every_path_a_doc_cites_exists(doc):
    assert doc.is_file(), f"{doc.relative_to(REPO)} is missing"
    stale = [f"{doc.relative_to(REPO)}:{n} cites {path}, which does not exist"
             for n, path in cited_paths(doc.read_text(encoding="utf-8")) if not (REPO / path).exists()]
    assert not stale, "stale citations (fix the doc, or the path if it moved):\n" + "\n".join(stale)


# ---- every section a file cites by name exists ----------------------------------------------------------

# `docs/quantization.md, "Activations"`, `README, "MicroPython"`: a doc and a heading, possibly across a line
# break of a comment.
SECTION_CITATION = re.compile(r'(docs/[\w-]+\.md|README(?:\.md)?),?\s*(?:#|\*|//)?\s*\\?"([^"\\\n]+)\\?"')
SOURCE_SUFFIXES = {".py", ".c", ".h", ".S", ".md", ".toml"}


def _source_files():
    for top in ROOTS:
        yield from (p for p in sorted((REPO / top).rglob("*")) if p.suffix in SOURCE_SUFFIXES and p.is_file())
    yield from (REPO / "README.md", REPO / "CONTRIBUTING.md")


def _headings(doc):
    """A Markdown file's headings, lowercase, without backticks (lines in fenced code blocks are not headings)."""
    headings, in_code = [], False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif line.startswith("#") and not in_code:
            headings.append(line.lstrip("#").replace("`", "").strip().lower())
    return headings


def _cited_docs(citing, name):
    """The docs a citation may mean: docs/x.md from the root; README from the citing file's folder up."""
    if not name.startswith("README"):
        return [REPO / name]
    folders = [citing.parent, *citing.parent.parents]
    return [f / "README.md" for f in folders[:folders.index(REPO) + 1] if (f / "README.md").is_file()]


def test_every_section_a_file_cites_exists():
    stale = []
    for path in _source_files():
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in SECTION_CITATION.finditer(text):
            section = m.group(2).replace("`", "").strip().lower()
            docs = [d for d in _cited_docs(path, m.group(1)) if d.is_file()]
            if not any(section in heading for doc in docs for heading in _headings(doc)):
                line = text.count("\n", 0, m.start()) + 1
                stale.append(f"{path.relative_to(REPO)}:{line} cites {m.group(1)}, \"{m.group(2)}\"")
    assert not stale, "sections cited that no heading matches (fix the citation or the heading):\n" + "\n".join(stale)


# ---- the license ----------------------------------------------------------------------------------------

def test_the_package_states_the_license_of_the_license_file():
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"


def test_the_exported_platformio_manifest_states_the_same_license():
    manifest = platformio_manifest("m", "a model", SimpleNamespace(model_hash="0" * 16))
    assert manifest["license"] == "MIT"


def test_the_readme_lists_every_command_as_tinyrnn_help_does():
    """README.md's `$ tinyrnn --help` block is the command table's own usage text (commands added later show up)."""
    from tinyrnn.host.cli import usage
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("$ tinyrnn --help\n") + len("$ tinyrnn --help\n"):]
    block = block[:block.index("```")].rstrip("\n")
    expected = usage()[usage().index("commands:"):]
    assert block == expected, "README's `tinyrnn --help` block is stale: paste the current output"


def test_the_protocol_doc_numbers_the_mpy_architectures_as_micropython_does():
    """The `sys.implementation._mpy >> 10` codes a reader matches a board against (py/persistentcode.h's order)."""
    from tinyrnn.host.device.micropython.deploy import MPY_ARCHS
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    listed = re.search(r"`sys\.implementation\._mpy >> 10`: ([^)]*)\)", text).group(1)
    pairs = [item.split() for item in listed.split(", ")]
    assert pairs and all(MPY_ARCHS[int(code)] == name for code, name in pairs), listed
