"""The artifact directory's one owner (tinyrnn.quantize.artifact): it checks a directory once with one-line
errors, round-trips model.json and a board run's results.json exactly, and no other module opens those files."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from tinyrnn.quantize.artifact import (FORMAT_VERSION, MANIFEST_NAME, RESULTS_NAME, Artifact, BoardRun, Manifest,
                                       board_runs)
from tinyrnn.quantize.errors import UserError
from tinyrnn.quantize.reference.synthetic import make_artifact

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parent.parent
OWNER = REPO / "quantize" / "artifact"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("artifact") / "m", units=8, n=3, steps=6, k=3)


def damaged(tmp_path, source, text):
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in source.iterdir():
        if f.is_file():
            (copy / f.name).write_bytes(f.read_bytes())
    if text is not None:
        (copy / MANIFEST_NAME).write_text(text)
    return copy


def one_line_user_error(call, *fragments):
    with pytest.raises(UserError) as info:
        call()
    line = info.value.one_line()
    assert "\n" not in line and info.value.fix, line
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_an_artifact_opens_with_its_typed_manifest(synthetic):
    artifact = Artifact.open(synthetic)
    manifest = artifact.manifest
    assert manifest.format == FORMAT_VERSION and manifest.task == "classification"
    assert (manifest.input_dim, manifest.output_dim, manifest.units) == (6, 3, 8)
    assert manifest["task"] == manifest.task and "target_norm" not in manifest   # reads as the JSON object too
    split = artifact.test_split()
    assert split.x.shape == (3, 6, 6) and split.float_outputs.shape == (3, 6, 3) and len(split.lengths) == 3
    assert set(artifact.weights()) >= {"layer0_kernel", "head_kernel"}
    assert artifact.c_dir == synthetic / "c" and artifact.kernel.npz == synthetic / "kernel.npz"
    assert artifact.model_hash is None and not artifact.kernel.present


@pytest.mark.parametrize("text, fragment", [
    ("{", "cannot read model.json"),
    ("null", "not an artifact manifest"),
    ("[1, 2]", "not an artifact manifest"),
    ('{"model_hash": 5}', "not 16 lowercase hex digits"),
    ('{"model_hash": "ZZ"}', "not 16 lowercase hex digits"),
    (json.dumps({"format": FORMAT_VERSION + 1}), f"format {FORMAT_VERSION + 1}"),
    ('{"format": "one"}', "not an artifact format version"),
    ('{"input_dim": 0}', "input_dim 0 is not a positive integer"),
])
def test_a_damaged_manifest_is_one_line(tmp_path, synthetic, text, fragment):
    copy = damaged(tmp_path, synthetic, text)
    one_line_user_error(lambda: Artifact.open(copy), str(copy), fragment)


def test_missing_files_are_one_line(tmp_path, synthetic):
    one_line_user_error(lambda: Artifact.open(tmp_path / "nowhere"), "nowhere", "no model.json")
    copy = damaged(tmp_path, synthetic, None)
    for name in ("weights.npz", "test_split.npz"):
        (copy / name).unlink()
    artifact = Artifact.open(copy)
    one_line_user_error(artifact.weights, "no weights.npz")
    one_line_user_error(artifact.test_split, "no test_split.npz")


def test_a_truncated_or_misshapen_file_is_one_line(tmp_path, synthetic):
    copy = damaged(tmp_path, synthetic, None)
    data = (copy / "weights.npz").read_bytes()
    (copy / "weights.npz").write_bytes(data[:len(data) // 2])
    one_line_user_error(Artifact.open(copy).weights, "weights.npz")
    np.savez(copy / "test_split.npz", x=np.zeros((2, 5, 4)), lengths=np.ones(2), y=np.zeros(2),
             float_outputs=np.zeros((2, 5, 3)))
    one_line_user_error(Artifact.open(copy).test_split, "do not fit a model of 6 inputs")


def test_a_manifest_without_format_is_the_current_version(tmp_path, synthetic):
    data = json.loads((synthetic / MANIFEST_NAME).read_text())
    del data["format"]
    copy = damaged(tmp_path, synthetic, json.dumps(data))
    assert Artifact.open(copy).manifest.format == FORMAT_VERSION


def test_manifest_round_trip_keeps_order_absent_fields_and_unknown_keys():
    data = {"format": 1, "dataset": "x", "task": "regression", "future_key": {"a": [1, 2]}, "units": 4,
            "model_hash": None, "target_norm": {"mean": [0.0], "std": [1.0]}}
    manifest = Manifest.from_dict(data)
    assert manifest.extra == {"future_key": {"a": [1, 2]}} and manifest.classes is None
    assert list(manifest.to_dict().items()) == list(data.items())
    changed = manifest.replace(model_hash="0123456789abcdef").to_dict()
    assert list(changed) == list(data) and changed["model_hash"] == "0123456789abcdef"


def test_manifest_written_and_read_back(tmp_path, synthetic):
    before = (synthetic / MANIFEST_NAME).read_text()
    copy = damaged(tmp_path, synthetic, None)
    artifact = Artifact.open(copy)
    artifact.write_manifest(artifact.manifest)
    assert (copy / MANIFEST_NAME).read_text() == before          # byte for byte
    artifact.write_manifest(artifact.manifest.replace(model_hash="0123456789abcdef"))
    assert Artifact.open(copy).model_hash == "0123456789abcdef"


RESULTS = {
    "board": "qemu-x", "port": "/dev/pts/9", "model": "m", "model_hash": "0123456789abcdef", "cell": "gru",
    "layers": 1, "units": 8, "input_dim": 6, "output_dim": 3, "kernel_path": "c", "cpu_clock_hz": 25e6,
    "task": "classification", "sequences": 3, "steps": 18, "limit": None,
    "bit_exact": {"mismatched_values": 0, "mismatched_steps": 0, "total_values": 54, "first_mismatch": None},
    "fidelity": {"accuracy": 1.0, "final_max_abs": 0.01, "step_max_abs": 0.02},
    "thresholds": {}, "latency": {"unit": "instructions", "note": "n", "cpu_clock_hz": 25e6,
                                  "per_step": {"p50": 1.0, "p99": 2.0, "max": 3.0, "min": 1.0, "mean": 1.5},
                                  "per_step_values": [1, 2, 3]},
    "firmware_size": None, "wall_seconds": 1.0,
    "link": {"tries": 3, "board": {"stack_used": 500, "stack_size": 8192}},
    "stopped": None, "resumed_sequences": 0, "a_newer_field": [1],
    "verdict": {"passed": True, "reasons": [], "warnings": []}, "passed": True,
}


def test_board_run_round_trip(tmp_path):
    run = BoardRun.from_dict(RESULTS)
    assert run.bit_exact.exact and run.latency.per_step.p50 == 1.0 and run.verdict.passed
    assert run.complete and run.stack == {"used": 500, "size": 8192} and run.extra == {"a_newer_field": [1]}
    assert run.to_dict() == RESULTS and list(run.to_dict()) == list(RESULTS)
    out = run.write(Artifact.open(make_artifact(tmp_path / "m", units=4, n=2, steps=4)).run_dir("qemu-x"))
    assert out.name == RESULTS_NAME
    stored = json.loads(out.read_text())
    assert "per_step_values" not in stored["latency"]          # plotted, not stored
    assert BoardRun.read(out.parent).to_dict() == stored


def test_board_runs_lists_complete_readable_runs(tmp_path):
    model = make_artifact(tmp_path / "m", units=4, n=2, steps=4)
    artifact = Artifact.open(model)
    BoardRun.from_dict(RESULTS).write(artifact.run_dir("qemu-x"))
    BoardRun.from_dict({**RESULTS, "limit": 2}).write(artifact.run_dir("qemu-x", limit=2))
    (artifact.run_dir("broken")).mkdir(parents=True)
    (artifact.run_dir("broken") / RESULTS_NAME).write_text("{")
    assert [run.board for _, run in board_runs(model)] == ["qemu-x"]
    assert len(artifact.board_runs(complete_only=False)) == 2
    one_line_user_error(lambda: BoardRun.read(artifact.run_dir("broken")), "cannot read the board run")


# ---- nobody else opens the owner's files --------------------------------------------------------------

OWNED_FILES = (MANIFEST_NAME, RESULTS_NAME)


def file_name_literals(tree):
    """String constants naming an owned file as a path (`d / "model.json"`, "*/results.json"), f-strings'
    literal parts included; prose that merely mentions a file ("no model.json") is not a path."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(node.value == name or node.value.endswith("/" + name) for name in OWNED_FILES):
                yield node.lineno, node.value


def test_only_the_owner_opens_model_json_and_results_json():
    offenders = []
    for folder in ("quantize", "host"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if OWNER in path.parents:
                continue
            for line, value in file_name_literals(ast.parse(path.read_text())):
                offenders.append(f"{path.relative_to(REPO)}:{line}: {value!r}")
    assert offenders == [], "open these through tinyrnn.quantize.artifact"


def test_the_check_sees_what_it_forbids():
    code = ('import json\nfrom pathlib import Path\nd = Path(".")\njson.loads((d / "model.json").read_text())\n'
            'print(f"{d / \'results.json\'}")\nlist(d.glob("*/results.json"))\nraise SystemExit("no model.json")\n')
    assert [v for _, v in sorted(file_name_literals(ast.parse(code)))] == ["model.json", "results.json",
                                                                          "*/results.json"]


def test_the_format_is_documented_in_one_place():
    """docs/artifacts.md states the version the code reads and documents every field the typed values have."""
    doc = (REPO / "docs" / "artifacts.md").read_text()
    assert f"artifact format **{FORMAT_VERSION}**" in doc and f'"format": {FORMAT_VERSION}' in doc
    manifest_part = doc.split("## `model.json`")[1].split("\n## ")[0]
    results_part = doc.split("## `hw/<board>/results.json`")[1].split("\n## ")[0]
    assert [f for f in Manifest.field_names() if f'"{f}"' not in manifest_part] == []
    assert [f for f in BoardRun.field_names() if f"`{f}`" not in results_part] == []


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_artifact_files_follow_the_umask(tmp_path, umask):
    """A copied artifact directory must be readable by another user or CI account as the umask allows (the
    atomic writer's temporary file is private: its mode is set from the umask before it replaces the file)."""
    import os
    old = os.umask(umask)
    try:
        artifact = Artifact.create(tmp_path / "a", {"task": "classification"})
        artifact.write_manifest(artifact.manifest)
    finally:
        os.umask(old)
    assert (artifact.path / MANIFEST_NAME).stat().st_mode & 0o777 == 0o666 & ~umask
