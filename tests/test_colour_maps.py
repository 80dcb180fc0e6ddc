"""The diverging colour map (signed weights: web/js/colours.js's diverging, d3's RdBu) stays readable
with deuteranopia, the commonest colour blindness (issue #43): simulated with Machado, Oliveira and
Fernandes (2009) at full severity, its two sides stay apart at every step and its lightness still
rises to white at 0. The colours are read from the d3 the page vendors."""
import re
from pathlib import Path

import numpy as np

D3 = Path(__file__).resolve().parent.parent / "node_modules" / "d3" / "dist" / "d3.js"
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968],
                         [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])  # linear RGB, severity 1.0


def rdbu():
    """d3's RdBu, its 11 steps (what interpolateRdBu runs through), as sRGB 0..1."""
    source = D3.read_text()
    block = source[source.index("var RdBu = ramp$1(scheme$m)") - 1200:source.index("var RdBu = ramp$1(scheme$m)")]
    last = re.findall(r'"([0-9a-f]+)"', block.split("scheme$m = new Array(3).concat(")[1])[-1]
    return np.array([[int(last[i + j:i + j + 2], 16) / 255 for j in (0, 2, 4)] for i in range(0, len(last), 6)])


def linear(srgb):
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(lin):
    """CIELAB (D65) of linear RGB rows."""
    xyz = lin @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def test_the_two_sides_of_the_diverging_map_stay_apart_with_deuteranopia():
    colours = rdbu()
    assert len(colours) == 11
    seen = lab(np.clip(linear(colours) @ DEUTERANOPIA.T, 0, 1))
    for i in range(5):  # a negative step and the positive step as far from 0: told apart by hue
        assert np.linalg.norm(seen[i] - seen[10 - i]) > 15, (i, seen[i], seen[10 - i])
    lightness = seen[:, 0]
    assert all(np.diff(lightness[:6]) > 0) and all(np.diff(lightness[5:]) < 0)  # darker with |value| on both sides
