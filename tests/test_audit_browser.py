"""The HTML audit report in a real browser (headless Chromium).

The page is loaded from disk with a small instrumentation script around it: one
listener, first in ``<head>``, records every error (a script error, an image that
fails to decode); one, after the report, waits for ``load`` and writes what it saw
(sections present and laid out, every image decoded with a size) into the DOM,
which ``--dump-dom`` prints. Chromium's console log goes to stderr
(``--enable-logging=stderr``): the report itself has no script, so any console
message is a failure.

Skipped, with the reason, where no Chromium is installed (Debian: ``apt-get install
chromium``; CI installs it).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from pitfalls.audit import audit

BROWSER = next(
    (
        path
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
        if (path := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on this machine (Debian: apt-get install chromium); the HTML report "
    "is not checked in a browser here",
)

SECTIONS = ("findings", "details", "distributions", "duplicates", "checklist")

_BEFORE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var where = e.target && e.target.tagName ? e.target.tagName + " " + (e.target.alt || "") : "";
  window.__errors.push(String(e.message || where || e));
}, true);
</script>"""

_AFTER = """<script>
window.addEventListener("load", function () {
  var sections = %s.map(function (id) {
    var el = document.getElementById(id);
    return [id, !!el && el.getBoundingClientRect().height > 0];
  });
  var images = Array.prototype.map.call(document.images, function (img) {
    return [img.alt, img.complete, img.naturalWidth, img.naturalHeight];
  });
  var out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({sections: sections, images: images, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def smooth_image(seed, size=96):
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 16)
    return (30 + 190 * (field - field.min()) / np.ptp(field)).astype(np.uint8)


@pytest.fixture
def report(tmp_path):
    """A report with every section: PNG copies, a 3-D volume pair, a mask pair, sites."""
    root = tmp_path / "img"
    root.mkdir()
    rows = []
    for i in range(12):
        Image.fromarray(smooth_image(i)).save(root / f"{i}.png")
        rows.append({"pid": f"p{i}", "split": "train" if i < 8 else "test", "path": f"{i}.png"})
    Image.fromarray(smooth_image(0)).save(root / "copy.png", compress_level=0)
    bright = np.clip(smooth_image(1).astype(int) + 25, 0, 255).astype(np.uint8)
    Image.fromarray(bright).save(root / "bright.png")
    rng = np.random.default_rng(0)
    volume = gaussian_filter(rng.normal(size=(9, 40, 40)), 3)
    mask = gaussian_filter(rng.normal(size=(40, 40)), 4) > 0
    for name, array in (("v1", volume), ("v2", volume), ("m1", mask), ("m2", mask)):
        np.save(root / f"{name}.npy", array)
    extra = [("q1", "test", "copy.png"), ("q2", "test", "bright.png"), ("v", "train", "v1.npy")]
    extra += [("w", "test", "v2.npy"), ("m", "train", "m1.npy"), ("n", "test", "m2.npy")]
    rows += [{"pid": p, "split": s, "path": f} for p, s, f in extra]
    df = pd.DataFrame(rows)
    df["y"] = np.where(np.arange(len(df)) % 3 == 0, "sick", "healthy")
    df["site"] = np.where(df.y == "sick", "Zürich", "Köln")
    return audit(df, group="pid", split="split", label="y", site="site", image="path", root=root)


def render_in_browser(page, tmp_path):
    """Load the page in headless Chromium; return (what the checker saw, console lines)."""
    instrumented = page.replace("<head>", "<head>" + _BEFORE, 1).replace(
        "</body>", _AFTER % json.dumps(list(SECTIONS)) + "</body>", 1
    )
    path = tmp_path / "report.html"
    path.write_text(instrumented, encoding="utf-8")
    done = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading:\n{done.stderr[-3000:]}"
    seen = json.loads(html.unescape(found[1]))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return seen, console


def test_every_section_and_image_renders_without_console_errors(report, tmp_path):
    assert {"PF102", "PF104", "PF201"} <= set(report.findings.code)
    page = report.to_html()
    seen, console = render_in_browser(page, tmp_path)
    assert console == []
    assert seen["errors"] == []
    assert dict(seen["sections"]) == dict.fromkeys(SECTIONS, True)
    # 3 distribution figures; PF102: the PNG copy, the volume and the mask pairs; PF104.
    alts = [alt for alt, *_ in seen["images"]]
    assert alts.count("Classes per site") == 1 and len(alts) == 3 + 2 * (3 + 1)
    for alt, complete, width, height in seen["images"]:
        assert complete and width > 0 and height > 0, alt


def test_the_checker_sees_a_broken_image(report, tmp_path):
    # The check can fail: a corrupt embedded PNG is reported.
    page = report.to_html().replace("base64,iVBOR", "base64,AAAA", 1)
    seen, _ = render_in_browser(page, tmp_path)
    assert seen["errors"] and any(width == 0 for _, _, width, _ in seen["images"])
