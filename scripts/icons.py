"""The app icons (web/icons/icon-192.png, icon-512.png): web/favicon.svg drawn large with Pillow.

The favicon is four squares on a rounded square; drawing the same shapes avoids an SVG renderer.
Run once when the favicon changes: python scripts/icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "web" / "icons"
SQUARES = ((3, 3), (9, 3), (3, 9), (9, 9))  # favicon.svg's 4x4 squares on its 16x16 grid


def icon(size: int) -> Image.Image:
    unit = size / 16
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=round(3 * unit), fill="#3b4cc0")
    for x, y in SQUARES:
        draw.rectangle((round(x * unit), round(y * unit), round((x + 4) * unit) - 1, round((y + 4) * unit) - 1),
                       fill="#f4d35e")
    return image


if __name__ == "__main__":
    ICONS.mkdir(exist_ok=True)
    for size in (192, 512):
        icon(size).save(ICONS / f"icon-{size}.png", optimize=True)
        print(f"wrote {ICONS / f'icon-{size}.png'}")
