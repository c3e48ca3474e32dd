"""The HTML audit report in a real browser (headless Chromium).

The browser harness is the ``render_in_browser`` fixture of ``conftest.py`` (shared
with the study report's browser test): every section laid out, every image decoded,
no script error and no console message. Skipped, with the reason, where no Chromium
is installed (Debian: ``apt-get install chromium``; CI installs it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from pitfalls.audit import audit

SECTIONS = ("findings", "details", "distributions", "duplicates", "checklist")


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


def test_every_section_and_image_renders_without_console_errors(render_in_browser, report):
    assert {"PF102", "PF104", "PF201"} <= set(report.findings.code)
    page = report.to_html()
    seen, console = render_in_browser(page, SECTIONS)
    assert console == []
    assert seen["errors"] == []
    assert dict(seen["sections"]) == dict.fromkeys(SECTIONS, True)
    # 3 distribution figures; PF102: the PNG copy, the volume and the mask pairs; PF104.
    alts = [alt for alt, *_ in seen["images"]]
    assert alts.count("Classes per site") == 1 and len(alts) == 3 + 2 * (3 + 1)
    for alt, complete, width, height in seen["images"]:
        assert complete and width > 0 and height > 0, alt


def test_the_checker_sees_a_broken_image(render_in_browser, report):
    # The check can fail: a corrupt embedded PNG is reported.
    page = report.to_html().replace("base64,iVBOR", "base64,AAAA", 1)
    seen, _ = render_in_browser(page, SECTIONS)
    assert seen["errors"] and any(width == 0 for _, _, width, _ in seen["images"])
