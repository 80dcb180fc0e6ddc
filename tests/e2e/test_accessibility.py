"""WCAG 2.0 and 2.1, levels A and AA, as axe-core checks them (issue #43): every view, every tour step
and every operation view, on a desktop (1366x900) and a phone (390x844), in the light and the dark
theme. axe-core is a test-only npm package (node_modules/axe-core), injected into the page here; the
page never ships it. No rule is turned off: what axe cannot judge (the pixels of a canvas map) is
covered by the text alternatives' tests."""
from __future__ import annotations

import pytest

from export.default_model import NAME
from export.shared import page_module

from .conftest import ROOT, WEB, Watched

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
KEYS = [key for key, _ in page_module("tour").STEPS]
STEPS = len(KEYS)

# What shows that a view is drawn (and so what axe must see).
DRAWN = {
    "overview": "svg.overview g.node",
    "graph": ".kg-svg .kg-node",
    "detail": "#detail-canvas[data-tensor]",
    "interpretation": "#interp-canvas[data-kind]",
    "whatif": "#atlas-grid .atlas-cell",
}
OPERATIONS = ("open-patch", "open-positions", "open-layernorm", "open-attention", "open-gelu")

AUDIT = """
async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\\n    ` +
    v.nodes.slice(0, 6).map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\\s+/g, ' ')}`).join('\\n    '));
}
"""


@pytest.fixture(params=[(screen, theme) for screen in SCREENS for theme in THEMES], ids=lambda p: f"{p[0]}-{p[1]}")
def audited(browser, site, request):
    """A page at one screen size in one theme (the system's, as prefers-color-scheme says), which
    accepts axe-core's script despite the page's Content-Security-Policy."""
    screen, theme = request.param
    context = browser.new_context(viewport=SCREENS[screen], color_scheme=theme, bypass_csp=True,
                                  is_mobile=screen == "phone", has_touch=screen == "phone")
    watched = Watched(context.new_page(), site.rstrip("/"))
    yield watched, theme
    context.close()


def audit(page, where):
    if not page.evaluate("typeof axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AUDIT, TAGS)
    assert violations == [], f"{where}:\n  " + "\n  ".join(violations)


def test_every_view_tour_step_and_operation_view_has_no_violation(audited, site):
    watched, theme = audited
    page = watched.page
    watched.open(site, f"#model={NAME}&image=chelsea&view=overview")
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    page.wait_for_selector(DRAWN["overview"])
    audit(page, "the page before anything is chosen, Model overview")
    for view, drawn in DRAWN.items():
        page.click(f"[data-view-tab={view}]")
        page.wait_for_selector(drawn, timeout=60_000)
        audit(page, f"view {view}")
    page.click("[data-view-tab=detail]")
    for button in OPERATIONS:
        page.click(f"#{button}")
        page.locator("dialog#operation-dialog").wait_for()
        page.wait_for_function("document.getElementById('operation-title')?.textContent")
        audit(page, f"operation view {button}")
        page.keyboard.press("Escape")
        page.wait_for_selector("dialog#operation-dialog", state="detached")
    page.click("[data-view-tab=tour]")
    for step in range(1, STEPS + 1):
        page.click(f"#tour-dots [data-step='{step}']")
        page.wait_for_function("([key, s]) => document.getElementById('tour-step').dataset.step === key"
                               " && location.hash.includes(`tour=${s}`)", arg=[KEYS[step - 1], step])
        audit(page, f"tour step {step}")
    watched.assert_clean()


def test_the_theme_switch_is_kept_and_overrides_the_system(watched, site):
    page = watched.page
    watched.open(site, f"#model={NAME}&image=chelsea")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"  # the system's: light here
    page.select_option("#theme-picker", "dark")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    watched.wait_ready()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.input_value("#theme-picker") == "dark"
    page.select_option("#theme-picker", "system")
    page.emulate_media(color_scheme="dark")  # it follows the system again, as the system changes
    page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    page.emulate_media(color_scheme="light")
    page.wait_for_function("document.documentElement.dataset.theme === 'light'")
    watched.assert_clean()


def test_axe_core_is_for_the_tests_only():
    assert AXE.is_file(), "npm ci installs axe-core (package.json's devDependencies)"
    assert not any(WEB.rglob("axe*.js")), "axe-core must not be shipped in the page"


SNAPSHOTS = ROOT / "tests" / "e2e" / "snapshots"


def test_each_tour_step_has_the_accessibility_tree_held_here(watched, site):
    """What a screen reader finds in each tour step (Playwright's ARIA snapshot of the tour), for the
    default model on chelsea: held in tests/e2e/snapshots/. A change to a step's structure or words
    shows here; VITLENS_UPDATE_SNAPSHOTS=1 writes them anew, to be read before they are committed."""
    import os
    page = watched.page
    watched.open(site, f"#model={NAME}&image=chelsea&view=tour&tour=1")
    update = os.environ.get("VITLENS_UPDATE_SNAPSHOTS") == "1"
    SNAPSHOTS.mkdir(exist_ok=True)
    for step in range(1, STEPS + 1):
        page.click(f"#tour-dots [data-step='{step}']")
        page.wait_for_function("([key, s]) => document.getElementById('tour-step').dataset.step === key"
                               " && location.hash.includes(`tour=${s}`)", arg=[KEYS[step - 1], step])
        tree = page.locator("#view-tour").aria_snapshot() + "\n"
        held = SNAPSHOTS / f"tour-{step:02d}.yml"
        if update:
            held.write_text(tree)
        assert held.is_file(), f"no snapshot for step {step}: run with VITLENS_UPDATE_SNAPSHOTS=1"
        assert tree == held.read_text(), f"step {step}'s accessibility tree changed"
    watched.assert_clean()


def test_a_prediction_is_announced_once_and_hover_readouts_are_not_live(watched, site):
    page = watched.page
    watched.open(site, f"#model={NAME}&image=chelsea&view=interpretation")
    announced = "document.getElementById('announcer').textContent"
    page.wait_for_function(f"{announced} === 'Prediction: cat, 100%.'")
    assert page.get_attribute("#announcer", "role") == "status"
    page.wait_for_selector("#interp-canvas[data-kind]")
    page.hover("#interp-canvas", position={"x": 50, "y": 50})  # the pointer: read on screen, not said
    assert page.get_attribute("#interp-readout", "data-patch") is not None
    assert page.evaluate(announced) == "Prediction: cat, 100%."
    live = page.eval_on_selector_all("[aria-live], [role=status], [role=alert]", "es => es.map(e => e.id)")
    assert not {"detail-readout", "interp-readout", "whatif-readout", "detail-annotation"} & set(live), live
    page.click("#gallery [data-sample='cifar10-ship']")
    page.wait_for_function(f"{announced}.startsWith('Prediction: ') && {announced} !== 'Prediction: cat, 100%.'")
    watched.assert_clean()
