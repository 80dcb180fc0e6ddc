"""Files a user may drop on the page: the broken ones get a clear message and the previous image and
prediction stay; the unusual but valid ones are classified (one page for all, as a user would)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from export.preprocess import preprocess

from .conftest import Watched
from .test_page import MANIFEST, TOP_OF_DEFAULT, page_tensor, probabilities

REFUSED = "is not an image this browser can decode; the previous image is kept"


def chelsea():
    from skimage import data
    return Image.fromarray(data.chelsea())


def encoded(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def exif_rotated():
    """Stored on its side, with an EXIF orientation that says to turn it back."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return encoded(chelsea().rotate(90, expand=True), "JPEG", exif=exif, quality=95)


def animated():
    from skimage import data
    frames = [chelsea().resize((96, 64)), Image.fromarray(data.coffee()).resize((96, 64))]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


BROKEN = {
    "empty.png": lambda: b"",
    "truncated.png": lambda: encoded(chelsea(), "PNG")[:20000],
    "truncated.jpg": lambda: encoded(chelsea(), "JPEG")[:200],
    "text-renamed.png": lambda: b"this is not an image\n" * 50,
    "script.svg": lambda: (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                           b'<script>alert(1)</script><rect width="64" height="64" fill="red"/></svg>'),
}
VALID = {
    "animated.gif": animated,
    "sixteen-bit.png": lambda: encoded(Image.fromarray(np.asarray(chelsea().convert("L")).astype(np.uint16) * 257),
                                       "PNG"),
    "cmyk.jpg": lambda: encoded(chelsea().convert("CMYK"), "JPEG", quality=95),
    "exif-rotated.jpg": exif_rotated,
    "one-pixel.png": lambda: encoded(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG"),
}


@pytest.fixture(scope="module")
def uploader(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), site.rstrip("/"))
    watched.dialogs = []
    watched.page.on("dialog", lambda d: (watched.dialogs.append(d.message), d.dismiss()))
    watched.open(site, TOP_OF_DEFAULT + "&image=chelsea")
    yield watched
    try:  # after every test of the module, whichever ran: no page error, console error, failed or foreign request
        watched.assert_clean()
    finally:
        context.close()


def upload(watched, tmp_path, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    page = watched.page
    before = page.evaluate("Number(document.body.dataset.classified)")
    page.set_input_files("#file-input", str(path))
    page.wait_for_function(f"Number(document.body.dataset.classified) > {before} || "
                           "document.getElementById('message').classList.contains('error')")
    watched.wait_ready()
    return page.evaluate("Number(document.body.dataset.classified)") > before


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_explained_and_the_previous_image_kept(uploader, tmp_path, name):
    page = uploader.page
    caption, shown = page.inner_text("#image-caption"), probabilities(page)
    assert not upload(uploader, tmp_path, name, BROKEN[name]())
    message = page.inner_text("#message")
    assert name in message and REFUSED in message
    assert page.inner_text("#image-caption") == caption and probabilities(page) == shown
    assert uploader.dialogs == [] and uploader.page_errors == []


@pytest.mark.parametrize("name", sorted(VALID))
def test_an_unusual_image_is_classified(uploader, tmp_path, name):
    page = uploader.page
    assert upload(uploader, tmp_path, name, VALID[name]())
    assert page.is_hidden("#message") and name in page.inner_text("#image-caption")
    shown = probabilities(page)
    assert abs(sum(shown.values()) - 1) < 1e-4 and page.locator("#prediction-list li.top").count() == 1
    if name != "one-pixel.png":
        assert max(shown, key=shown.get) == "cat", (name, shown)
    if name == "exif-rotated.jpg":  # turned upright as the EXIF says, exactly as PIL would
        upright = ImageOps.exif_transpose(Image.open(io.BytesIO(exif_rotated())))
        reference = preprocess(upright, MANIFEST["preprocessing"])
        one_level = 1 / 255 / min(MANIFEST["preprocessing"]["std"])
        assert np.abs(page_tensor(page, "pixel_values") - reference).max() <= 2 * one_level
    assert uploader.dialogs == [] and uploader.page_errors == []


def test_a_12000_by_12000_image_is_reduced_by_the_browser_and_classified(uploader, tmp_path):
    page = uploader.page
    huge = encoded(chelsea().resize((12000, 12000), Image.BILINEAR), "JPEG", quality=85)
    assert upload(uploader, tmp_path, "huge.jpg", huge)
    caption = page.inner_text("#image-caption")
    assert "huge.jpg" in caption and "(reduced by the browser to 4096×4096)" in caption
    shown = probabilities(page)
    assert max(shown, key=shown.get) == "cat", shown
    assert uploader.dialogs == [] and uploader.page_errors == []


def test_a_file_name_made_of_html_shows_as_text(uploader, tmp_path):
    page = uploader.page
    name = "<img src=x onerror=alert(1)>.png"
    assert upload(uploader, tmp_path, name, encoded(chelsea(), "PNG"))
    assert name in page.inner_text("#image-caption")
    assert page.locator("#image-caption img").count() == 0 and page.locator("img[src=x]").count() == 0
    assert uploader.dialogs == [] and uploader.page_errors == []
