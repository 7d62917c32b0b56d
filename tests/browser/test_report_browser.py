"""A real browser (Debian's headless chromium) opens a run's report.html: it renders, its
pictures are there, and it loads nothing from anywhere."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from mlops import report
from mlops.cli import main
from mlops.pipeline_graph import pipeline_graph

SECTIONS = [
    "Pipeline",
    "State machine path",
    "Timeline",
    "Metrics",
    "Evaluation pictures",
    "Decision",
    "Deployment",
    "Estimated cost",
    "Logs and files",
]
#: The report's own drawings: the DAG, the path, and the two timelines.
DRAWINGS = 4


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole `mlops run --approve auto`, with one picture of our own beside its own.

    The extra picture (an SVG as matplotlib writes one: clip paths, a style, an embedded PNG)
    makes sure the report inlines at least one, whatever the evaluation made.
    """
    runs = tmp_path_factory.mktemp("runs")
    with redirect_stdout(io.StringIO()):
        code = main(["run", "--runs-dir", str(runs), "--param", "NumRound=30", "--approve", "auto"])
    assert code == 0
    (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    summary = json.loads((folder / "summary.json").read_text())
    (folder / "pictures").mkdir(exist_ok=True)
    (folder / "pictures" / "extra.svg").write_text(_matplotlib_svg())
    summary["pictures"] = {**(summary.get("pictures") or {}), "extra": "pictures/extra.svg"}
    (folder / "summary.json").write_text(json.dumps(summary))
    report.write_report(folder)
    return folder


def _matplotlib_svg() -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    axes = figure.add_subplot()
    axes.plot([0, 1, 2], [1, 0, 2])
    axes.imshow([[0, 1], [1, 0]], extent=(0, 1, 0, 1))  # an embedded PNG (data: URI)
    out = io.StringIO()
    figure.savefig(out, format="svg")
    return out.getvalue()


def _load(browser: Any, path: Path) -> dict[str, str | None]:
    """Open `path`: each URL the page asked for (data: URIs left out), with the reason the
    browser blocked it (DevTools' Network.loadingFailed blockedReason, "csp" for the page's
    policy), None when it was not blocked."""
    browser.get("about:blank")
    browser.get_log("performance")  # what the browser did before: not the page's
    browser.get(path.resolve().as_uri())
    urls: dict[str, str] = {}
    blocked: dict[str, str] = {}
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            if not params["request"]["url"].startswith("data:"):
                urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
            blocked[params["requestId"]] = params["blockedReason"]
    return {url: blocked.get(request) for request, url in urls.items()}


def test_the_report_renders_with_its_pictures_and_loads_nothing(
    run_folder: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    page = run_folder / "report.html"
    requested = _load(browser, page)

    assert browser.title == f"Run {run_folder.name}: Succeeded"
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Run {run_folder.name}")
    assert [h.text for h in browser.find_elements(By.TAG_NAME, "h2")] == SECTIONS
    # Every picture is inline SVG the browser laid out with a size.
    summary = json.loads((run_folder / "summary.json").read_text())
    pictures = browser.find_elements(By.CSS_SELECTOR, "figure[data-picture] svg")
    assert len(pictures) == len(summary["pictures"])
    svgs = browser.find_elements(By.TAG_NAME, "svg")
    assert len(svgs) == DRAWINGS + len(summary["pictures"])
    for svg in svgs:
        assert svg.size["width"] > 0 and svg.size["height"] > 0, svg.get_attribute("class")
    graph = pipeline_graph(json.loads((run_folder / "definition.json").read_text()))
    steps = browser.find_elements(By.CSS_SELECTOR, "svg.dag g.step")
    assert [s.get_attribute("data-step") for s in steps] == [s.name for s in graph.steps]
    for step in steps:
        assert step.size["width"] > 0 and step.size["height"] > 0
    # It loads nothing: the page itself is the only request, and no resource was fetched.
    assert requested == {page.resolve().as_uri(): None}
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    csp = browser.find_element(By.CSS_SELECTOR, 'meta[http-equiv="Content-Security-Policy"]')
    assert csp.get_attribute("content").startswith("default-src 'none'")
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_the_pages_policy_blocks_anything_from_outside(
    run_folder: Path, browser: Any, tmp_path: Path
) -> None:
    """Were a URL ever to get into the page, its policy would keep the browser from it."""
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    page = copy / "report.html"
    outside = "http://127.0.0.1:9"
    page.write_text(
        page.read_text(encoding="utf-8").replace(
            "<body>",
            f'<body><img src="{outside}/a.png"><link rel="stylesheet" href="{outside}/b.css">'
            f'<script src="{outside}/c.js"></script><script>document.title = "ran"</script>',
        ),
        encoding="utf-8",
    )
    requested = _load(browser, page)

    assert requested == {
        page.resolve().as_uri(): None,
        f"{outside}/a.png": "csp",
        f"{outside}/b.css": "csp",
        f"{outside}/c.js": "csp",
    }
    assert browser.title != "ran"
    refused = [
        e["message"]
        for e in browser.get_log("browser")
        if "Content Security Policy" in e["message"]
    ]
    assert len(refused) == 4, refused
