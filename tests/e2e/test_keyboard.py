"""The page with the keyboard alone (issue #43): a sensible Tab order with a visible focus ring, the
view tabs as the WAI-ARIA tabs pattern, the maps over the image and Model detail's readout driven by
the arrow keys, and dialogs that keep focus inside and give it back."""
from __future__ import annotations

import json

from export.default_model import NAME

from .conftest import WEB, wait_hash

MANIFEST = json.loads((WEB / "model" / NAME / "manifest.json").read_text())
SPECIAL = len(MANIFEST["special_tokens"])
ROWS, COLS = MANIFEST["grid"]

FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  const shape = e instanceof SVGElement && e.querySelector('rect, path');  // a diagram's box: its border is the ring
  return {id: e.id, tab: e.dataset.viewTab || null, sample: e.dataset.sample || null, tag: e.tagName,
          ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2
                || !!shape && parseFloat(getComputedStyle(shape).strokeWidth) >= 3,
          inDialog: !!e.closest('dialog')};
}"""


def focused(page):
    return page.evaluate(FOCUSED)


def test_tab_order_and_focus_ring_from_the_top(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview")
    page = watched.page
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["tag"] == "BODY":  # past the last control
            break
        assert now["ring"], f"no visible focus ring on {now}"
        seen.append(now["id"] or now["tab"] or now["sample"] or now["tag"])
    order = [seen.index(key) for key in ("model-picker", "theme-picker", "tab-overview", "chelsea", "file-input")]
    assert order == sorted(order), seen
    assert sum(key in MANIFEST["labels"] for key in seen) == 0
    assert [s for s in seen if s in ("tab-tour", "tab-graph", "tab-detail")] == []  # only the selected tab is in the Tab order
    watched.assert_clean()


def test_the_view_tabs_follow_the_tabs_pattern(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview")
    page = watched.page
    page.focus("#tab-overview")
    page.keyboard.press("ArrowRight")
    wait_hash(page, "view=graph")
    assert focused(page)["tab"] == "graph" and page.get_attribute("#tab-graph", "aria-selected") == "true"
    assert page.get_attribute("#tab-graph", "tabindex") == "0" and page.get_attribute("#tab-overview", "tabindex") == "-1"
    assert page.is_visible("#view-graph") and page.get_attribute("#view-graph", "aria-labelledby") == "tab-graph"
    page.keyboard.press("End")
    wait_hash(page, "view=whatif")
    page.keyboard.press("ArrowRight")  # wraps around
    wait_hash(page, "view=tour")
    assert focused(page)["tab"] == "tour"  # the tour's own arrow keys leave a tab alone
    page.keyboard.press("Home")
    wait_hash(page, "view=tour")
    page.keyboard.press("ArrowLeft")
    wait_hash(page, "view=whatif")
    watched.assert_clean()


def test_arrow_keys_move_over_the_map_and_enter_picks_the_patch(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation&token=0")
    page = watched.page
    page.wait_for_selector("#interp-canvas[data-kind]")
    label = page.get_attribute("#interp-canvas", "aria-label")
    assert label.startswith("Cosine similarity to the token, block") and "highest at row" in label
    page.keyboard.press("Shift")  # a keyboard user: focus from now on is the keyboard's (:focus-visible)
    page.focus("#interp-canvas")
    assert page.get_attribute("#interp-readout", "data-patch") == "0"  # focus puts the cursor on the first patch
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    patch = COLS + 2
    assert page.get_attribute("#interp-readout", "data-patch") == str(patch)
    assert page.inner_text("#interp-readout").startswith(f"token {patch + SPECIAL}: patch at row 1, column 2")
    page.wait_for_function("(t) => document.getElementById('announcer').textContent.startsWith(t)",
                           arg=f"token {patch + SPECIAL}")  # said, since the keyboard moved it
    page.keyboard.press("Enter")
    wait_hash(page, f"token={patch + SPECIAL}")
    page.wait_for_function(f"document.getElementById('interp-canvas').dataset.token === '{patch + SPECIAL}'")
    assert page.get_attribute("#interp-canvas", "aria-label") != label  # the text alternative follows the map
    page.keyboard.press("ArrowRight")  # the cursor stayed where it was across the redraw
    assert page.get_attribute("#interp-readout", "data-patch") == str(patch + 1)
    page.focus("#interp-multiples figure[data-block='3']")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('interp-canvas').dataset.block === '3'")
    watched.assert_clean()


def test_model_detail_reads_values_from_the_keyboard(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail&layer=2")
    page = watched.page
    page.wait_for_selector("#detail-canvas[data-tensor]")
    assert page.get_attribute("#detail-canvas", "aria-label").startswith("layer.1.output, shape")
    page.keyboard.press("Shift")
    page.focus("#detail-canvas")
    readout = page.locator("#detail-readout")
    assert (readout.get_attribute("data-map"), readout.get_attribute("data-cell")) == ("0", "0")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("PageDown")
    assert (readout.get_attribute("data-map"), readout.get_attribute("data-cell")) == ("1", "1")
    assert "value" in readout.inner_text()
    watched.assert_clean()


def test_a_dialog_keeps_focus_inside_and_gives_it_back(watched, site):
    watched.open(site, f"#model={NAME}&image=chelsea&view=detail")
    page = watched.page
    page.wait_for_selector("#detail-canvas[data-tensor]")
    page.focus("#open-gelu")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.closest('dialog[open]')")  # the dialog took focus
    for _ in range(12):
        assert focused(page)["inDialog"]
        page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#operation-dialog", state="detached")
    assert focused(page)["id"] == "open-gelu"
    watched.assert_clean()


def test_reduced_motion_opens_an_operation_at_its_end(browser, site):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    page.goto(site + f"#model={NAME}&image=chelsea&view=detail")
    page.wait_for_selector("#detail-canvas[data-tensor]", timeout=120_000)
    page.click("#open-gelu")
    dialog = page.locator("dialog#operation-dialog")
    dialog.wait_for()
    last = int(dialog.get_attribute("data-step"))
    assert last > 0 and page.locator("dialog#operation-dialog button[aria-label='Show the end']").count() == 1
    page.click("dialog#operation-dialog button[aria-label='Step back']")
    assert dialog.get_attribute("data-step") == str(last - 1)
    page.click("dialog#operation-dialog button[aria-label='Show the end']")
    assert dialog.get_attribute("data-step") == str(last)
    context.close()
