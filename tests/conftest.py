"""Fixtures shared by several test modules: writers of the public datasets' file formats,
and a headless browser that loads an HTML report and says what rendered."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest


def _write_dicom(path, pixels, *, age="045Y", sex="F", view="PA", photometric="MONOCHROME2"):
    """An 8-bit secondary-capture DICOM file like RSNA's, with the headers loaders read."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientAge, ds.PatientSex, ds.ViewPosition = age, sex, view
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.astype(np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def write_dicom():
    """``write_dicom(path, pixels, *, age, sex, view, photometric)``; needs pydicom."""
    pytest.importorskip("pydicom")
    return _write_dicom


# --- HTML reports in a real browser (headless Chromium) ----------------------------------
#
# The page is loaded from disk with a small instrumentation script around it: one
# listener, first in <head>, records every error (a script error, an image that fails to
# decode); one, after the report, waits for "load" and writes what it saw (the elements
# asked for present and laid out, every image decoded with a size) into the DOM, which
# --dump-dom prints. Chromium's console log goes to stderr (--enable-logging=stderr):
# the reports have no script of their own, so any console message is a failure.

BROWSER = next(
    (
        path
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
        if (path := shutil.which(name))
    ),
    None,
)
NO_BROWSER = (
    "no Chromium on this machine (Debian: apt-get install chromium); the HTML report is "
    "not checked in a browser here"
)

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


def _render_in_browser(page, element_ids, workdir):
    """Load ``page`` in headless Chromium; return (what the checker saw, console lines).

    What it saw: ``sections`` (pairs of element id and whether it is present with a
    height), ``images`` ((alt, complete, natural width, natural height) per image) and
    ``errors`` (script and image errors).
    """
    instrumented = page.replace("<head>", "<head>" + _BEFORE, 1).replace(
        "</body>", _AFTER % json.dumps(list(element_ids)) + "</body>", 1
    )
    path = workdir / "report.html"
    path.write_text(instrumented, encoding="utf-8")
    done = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={workdir / 'profile'}",
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


@pytest.fixture
def render_in_browser(tmp_path):
    """``render_in_browser(page, element_ids)`` -> (seen, console); skips without Chromium."""
    if BROWSER is None:
        pytest.skip(NO_BROWSER)
    return lambda page, element_ids: _render_in_browser(page, element_ids, tmp_path)
