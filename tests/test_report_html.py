"""report.html as a person meets it: a tiny model trained here, run on the emulated qemu-mps2-an386 through the
harness, then the page opened from disk in a real headless browser (Debian's chromium; CI installs it). The
page must render every embedded plot, show the verdicts, and its screenshot must hold real plots (colour), not
a blank page."""

import json
import re
import shutil
import subprocess

import pytest

from synthetic import make_sequences, write_npz
from tinyrnn.host import cli
from tinyrnn.host.report.html import write_html

pytestmark = pytest.mark.emulator

BOARD = "qemu-mps2-an386"
CHROMIUM = shutil.which("chromium")
# The flags a headless Chromium needs on a machine without a network or a display (FIELD-NOTES.md).
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
# Instrumentation added to a copy of the page: counts the images the browser actually decoded.
IMAGE_PROBE = ('<script>addEventListener("load", () => { const i = [...document.images]; '
               'document.body.setAttribute("data-decoded", i.filter(x => x.complete && x.naturalWidth > 0).length '
               '+ "/" + i.length); });</script></body>')


def browser(tmp_path, *args):
    assert CHROMIUM, "chromium is required (apt-get install chromium)"
    proc = subprocess.run([CHROMIUM, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def model_with_board_run(tmp_path_factory, monkeypatch_module):
    work = tmp_path_factory.mktemp("report")
    monkeypatch_module.chdir(work)                        # build/ and run records stay in the test's folder
    monkeypatch_module.setenv("TINYRNN_RUN_DIR", str(work / "run"))
    data = write_npz(work / "seqs.npz", *make_sequences(n=40, length=10, channels=3, classes=3))
    model = work / "tiny-gru8"
    assert cli.main(["train", "--data", str(data), "--out", str(model), "--units", "8", "--epochs", "3",
                     "--grid-epochs", "1", "--calibration-samples", "200", "--quiet"]) == 0
    assert cli.main(["flash", "--board", BOARD, "--model", str(model)]) == 0
    try:
        port = json.loads((work / "run" / f"{BOARD}.json").read_text())["port"]
        assert cli.main(["harness", "--port", port, "--model", str(model), "--quiet"]) == 0
    finally:
        cli.main(["flash", "--stop", "all"])
    return model


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_report_html_is_self_contained(model_with_board_run):
    text = (model_with_board_run / "report.html").read_text()
    assert "http://" not in text and "https://" not in text            # nothing fetched: opens from disk
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', text)) >= 6   # training + board plots
    for heading in ("Verdict", "Model and data", "Float, int8 TFLite and the kernel", f"Board {BOARD}"):
        assert heading in text
    metrics = json.loads((model_with_board_run / "metrics.json").read_text())
    assert metrics["verdict"]["passed"] is True and metrics["verdict"]["reasons"]
    assert set(metrics["per_class"]["forms"]) == {"float", "int8 TFLite", "kernel"}
    results = json.loads((model_with_board_run / "hw" / BOARD / "results.json").read_text())
    assert results["verdict"] == {"passed": True, "reasons": ["all checks passed"], "warnings": []}


def test_the_int8_model_memory_is_measured_in_both_reports(model_with_board_run):
    """The int8 TFLite column's flash and RAM cells hold figures: the flatbuffer's size, and its non-constant
    tensors (at least the int8 input and state it reads each step; fewer bytes than the whole file)."""
    model = model_with_board_run
    flash = (model / "model_int8.tflite").stat().st_size
    manifest = json.loads((model / "model.json").read_text())
    least = manifest["input_dim"] + manifest["units"] * manifest["layers"]
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (model / "report.html").read_text()))
    cells = re.search(r"interpreter code not included\) not measured ([\d,]+) [\d,]+ .*?"
                      r"without arena planning\) not measured ([\d,]+) [\d,]+", page)
    assert cells, page[:3000]
    html_flash, html_ram = (int(v.replace(",", "")) for v in cells.groups())
    assert html_flash == flash and least <= html_ram < flash, (html_flash, html_ram, least)
    md = (model / "report.md").read_text()
    assert re.search(rf"interpreter code not included\) \| not measured \| {flash} \| \d+ \|", md), md
    assert re.search(rf"without arena planning\) \| not measured \| {html_ram} \| \d+ \|", md), md


def test_browser_renders_every_plot_and_the_verdicts(model_with_board_run, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text((model_with_board_run / "report.html").read_text().replace("</body>", IMAGE_PROBE))
    dom = browser(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    decoded, total = map(int, re.search(r'data-decoded="(\d+)/(\d+)"', dom).groups())
    assert decoded == total >= 6
    visible = re.sub(r"<[^>]+>", " ", dom)
    assert re.search(rf"Board {BOARD}:\s+PASS", visible) and "Kernel against the float model:" in visible
    assert "bit-exact yes" in visible


def test_screenshot_shows_plots_not_a_blank_page(model_with_board_run, tmp_path):
    import matplotlib.image

    shot = tmp_path / "shot.png"
    browser(tmp_path, "--window-size=1200,6000", f"--screenshot={shot}",
            (model_with_board_run / "report.html").as_uri())
    pixels = matplotlib.image.imread(shot)[..., :3]
    ink = (pixels < 0.9).any(axis=-1).mean()                       # not white
    colour = (pixels.max(axis=-1) - pixels.min(axis=-1) > 0.25).mean()   # saturated: plot lines, badges
    assert ink > 0.05, f"only {ink:.1%} of the page is not white"
    assert colour > 0.005, f"only {colour:.2%} of the page is coloured: no plots?"


def test_report_without_training_figures_or_boards_still_renders(tmp_path):
    """An artifact exported alone (no metrics.json yet) gives a page that says what is missing."""
    (tmp_path / "model.json").write_text(json.dumps({"dataset": "x", "cell": "gru", "units": 4, "layers": 1}))
    page = write_html(tmp_path).read_text()
    assert "none run yet" in page and "not checked" in page
