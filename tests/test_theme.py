"""The themes' colours (web/style.css, web/knowledge.css) meet WCAG 2.1 AA contrast in light and in
dark: text 4.5:1 on what it is drawn on, the focus ring and the graph's shapes 3:1 (issue #43). axe
checks the page as drawn (tests/e2e/test_accessibility.py); this checks every pair, drawn or not."""
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"
THEMES = ("light", "dark")

TEXT = [  # (foreground, background): 4.5:1
    ("ink", "paper"), ("ink", "card"), ("muted", "paper"), ("muted", "card"), ("muted", "well"),
    ("accent", "card"), ("accent", "paper"), ("on-accent", "accent"), ("warn", "warn-soft"), ("warn", "card"),
    ("up", "card"), ("down", "card"), ("on-pressed", "pressed"), ("on-tip", "tip"), ("tip-hint", "tip"),
    ("node-sub", "node"), ("ink", "node"), ("skip", "card"), ("ink", "accent-soft"), ("ink", "panel"),
    ("kg-concept-ink", "kg-paper"), ("kg-torch-ink", "kg-paper"), ("kg-gutter-ink", "kg-gutter"),
    *((f"kg-{token}", "kg-code") for token in ("keyword", "string", "comment", "number", "decorator", "name", "self")),
]
SHAPES = [  # (colour, background): 3:1
    ("focus", "paper"), ("focus", "card"), ("star", "card"), ("edge", "card"),
    *((f"kg-{kind}", "kg-paper") for kind in ("class", "function", "torch", "concept")),
]


def colours(theme):
    """The custom properties of one theme: :root, then (dark) what :root[data-theme="dark"] changes."""
    found = {}
    for path in (WEB / "style.css", WEB / "knowledge.css"):
        css = path.read_text()
        for selector, body in re.findall(r"(:root(?:\[data-theme=\"dark\"\])?)\s*\{([^}]*)\}", css):
            if selector == ":root" or theme == "dark":
                found.update(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", body))
    return found


def luminance(hex_colour):
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(a, b):
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", THEMES)
def test_every_text_colour_reads_on_its_background(theme):
    c = colours(theme)
    low = [(f, b, round(contrast(c[f], c[b]), 2)) for f, b in TEXT if contrast(c[f], c[b]) < 4.5]
    assert low == []


@pytest.mark.parametrize("theme", THEMES)
def test_the_focus_ring_and_the_shapes_stand_out(theme):
    c = colours(theme)
    low = [(f, b, round(contrast(c[f], c[b]), 2)) for f, b in SHAPES if contrast(c[f], c[b]) < 3]
    assert low == []


def test_both_themes_set_the_same_colours():
    light, dark = colours("light"), colours("dark")
    css = (WEB / "style.css").read_text() + (WEB / "knowledge.css").read_text()
    dark_only = re.search(r":root\[data-theme=\"dark\"\]\s*\{([^}]*)\}", css).group(1)
    assert set(light) == set(dark) and "--ink" in dark_only
