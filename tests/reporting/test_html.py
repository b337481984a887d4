"""The HTML report: one self-contained file, and it renders in a real headless Chromium."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
#: matplotlib's first two colours (tab10), which only the figures use.
FIGURE_COLOURS = ((31, 119, 180), (255, 127, 14))


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def report_html(toy_run, tmp_path):
    path = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "diffclust", "report", str(toy_run), "-o", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return path


def test_html_report_is_self_contained(report_html):
    page = Page()
    page.feed(report_html.read_text(encoding="utf-8"))
    tags = [tag for tag, _ in page.tags]
    assert "link" not in tags and "script" not in tags and "iframe" not in tags
    sources = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(sources) == 4  # scaling, convergence, quality, profile
    for source in sources:
        assert source.startswith("data:image/svg+xml;base64,")
        svg = ET.fromstring(base64.b64decode(source.split(",", 1)[1]))
        assert svg.tag.endswith("svg")
    text = " ".join(page.text)
    assert "10.25 ± 0.1871 †" in text and "timeout" in text and "Wilcoxon" in text
    assert "timeout: made up for the test" in text  # the failures section names the error
    assert "made-up CPU" in text  # the environment section


def _browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(report_html, artifacts, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium here; install Debian's package: apt-get install chromium")
    shutil.copy(report_html, artifacts / "report.html")
    screenshot = artifacts / "screenshot.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}", "--window-size=1280,3000",
         report_html.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0 and screenshot.exists(), done.stderr[-2000:]
    print(f"screenshot: {screenshot}")
    with Image.open(screenshot) as image:
        assert image.size == (1280, 3000)
        pixels = np.asarray(image.convert("RGB"))
    counts = {colour: int((pixels == colour).all(axis=-1).sum()) for colour in FIGURE_COLOURS}
    # The figures were decoded and drawn: their line and bar colours are on the page.
    assert all(count > 200 for count in counts.values()), counts
