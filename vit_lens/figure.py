"""vit-lens explain's figures, drawn natively with the page's colours: a map over the model's input,
and the deletion and insertion curves of what-if runs."""
from __future__ import annotations

import numpy as np

from . import viridis

OPACITY = 0.7  # the page's default (web/py/state.py)
SCALE = 2  # the figure is the model's input at twice its size, as the page saves at twice the screen's
TEXT_WIDTH = 448  # the text's width at the least (px): a small model's map does not squeeze it
REMOVED = (150, 150, 150)  # a removed patch: the run never read it
INK = (40, 40, 40)


def _page(name):
    from export.shared import page_module
    return page_module(name)


def map_figure(result: dict, manifest: dict, model_input: np.ndarray, image_name: str):
    """The figure the page saves of its Interpretation view, drawn here: what the map shows, its colour
    scale with its two ends, the map over the model's input at twice its size (each patch a block of
    exact pixels, the opacity the page's default), and the page's caption lines under it (the model and
    what the map shows, the image, the URL that reopens it). A PIL image."""
    from PIL import Image, ImageDraw, ImageFont
    notes, operations, tensors = _page("interpret_notes"), _page("operations"), _page("tensors")
    height, width = manifest["image_size"]
    recipe = manifest["preprocessing"]
    rgba = operations.image_bytes(tensors.as_floats(model_input.astype(np.float32).tobytes()), height, width,
                                  recipe["mean"], recipe["std"])
    size = (SCALE * width, SCALE * height)
    base = Image.frombytes("RGBA", (width, height), bytes(rgba)).convert("RGB").resize(size, Image.LANCZOS)
    rows, cols = result["grid"]
    asked, gone = result["asked"], [v is None for v in result["map"]]  # a removed patch has no value
    values = [v for v in result["map"] if v is not None]
    lens = "classes" in result
    levels = iter(tensors.levels(values, 0, 1) if lens else tensors.levels(values, min(values), max(values)))
    levels = [None if removed else next(levels) for removed in gone]
    colours = [REMOVED if level is None else viridis.class_colour(manifest["labels"].index(c)) if lens
               else viridis.colour(level) for level, c in zip(levels, result.get("classes", levels))]
    cells = Image.new("RGB", (cols, rows))
    cells.putdata(colours)
    weight = Image.new("L", (cols, rows))  # the map's share of each pixel: the opacity, times the probability (lens)
    weight.putdata([255 if level is None else round(OPACITY * (level if lens else 255)) for level in levels])
    picture = Image.composite(cells.resize(size, Image.NEAREST), base, weight.resize(size, Image.NEAREST))
    font = ImageFont.load_default(size=12)
    margin, line, text_width = 16, 18, max(size[0], TEXT_WIDTH)
    meaning = _wrap(notes.MEANINGS[asked["map"]], font, text_width)
    if asked["map"] == "relevance":
        what = f"class relevance (Chefer et al.), {asked['class']}" + (
            f" versus {asked['versus']}" if asked["versus"] else "") + ", every block"
    else:
        place = "embeddings output" if asked["block"] == 0 else f"block {asked['block']}"
        what = f"{asked['map']}, {place}, token {asked['token']}"
    if "edit" in result:
        what += f"; edited run: {result['edit']['described']} (grey: removed)"
    caption = [part for text in (f"ViT Lens · {manifest['title']} · Interpretation: {what}", f"Image: {image_name}",
                                 result["fragment"]) for part in _wrap(text, font, text_width)]
    top = margin + line * len(meaning) + 8
    swatches, x, y = [], margin, top  # the lens's legend: one swatch per class, in rows as wide as the map
    for index, label in enumerate(manifest["labels"] if lens else []):
        step = 22 + round(font.getlength(label))
        if x + step > margin + text_width and x > margin:
            x, y = margin, y + line
        swatches.append((index, label, x, y))
        x += step
    image_top = y + line + 8
    out = Image.new("RGB", (text_width + 2 * margin, image_top + size[1] + margin + line * len(caption) + margin),
                    "white")
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(meaning):
        draw.text((margin, margin + i * line), text, fill=INK, font=font)
    for index, label, x, y in swatches:
        draw.rectangle((x, y + 3, x + 10, y + 13), fill=viridis.class_colour(index))
        draw.text((x + 14, y), label, fill=INK, font=font)
    if not lens:
        low, high = f"{min(values):.3g}", f"{max(values):.3g}"
        draw.text((margin, top), low, fill=INK, font=font)
        left = margin + round(font.getlength(low)) + 6
        bar = Image.new("RGB", (256, 1))
        bar.putdata([viridis.colour(level) for level in range(256)])
        out.paste(bar.resize((256, 10)), (left, top + 3))
        draw.text((left + 262, top), high, fill=INK, font=font)
    out.paste(picture, (margin, image_top))
    for i, text in enumerate(caption):
        draw.text((margin, image_top + size[1] + margin + i * line), text, fill=INK, font=font)
    return out


def _wrap(text: str, font, width: int) -> list[str]:
    """Lines no wider than `width` px: broken between words, and inside a word (a URL) when it must."""
    lines, current = [], ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while font.getlength(word) > width:  # a word longer than the line
            cut = max(1, max(i for i in range(1, len(word) + 1) if font.getlength(word[:i]) <= width))
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    return [*lines, current] if current else lines


def curve_figure(result: dict, manifest: dict, model_input: np.ndarray, image_name: str):
    """A deletion or insertion curve: the top class's probability against the fraction of patches
    removed, the steps marked, its area, and the caption lines the map figure has. A PIL image."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default(size=12)
    asked, curve = result["asked"], result["curve"]
    margin, line, width, height = 16, 18, 400, 240  # the plot's own size
    order = "a seeded random order" if asked["order"] == "random" else f"the {asked['order']} map's order"
    title = (f"{asked['map'].capitalize()} curve of {result['class']}: patches removed in {order}, "
             f"most important first; area {result['area']:.3f} ("
             + ("lower" if asked["map"] == "deletion" else "higher") + " is more faithful)")
    caption = [f"ViT Lens · {manifest['title']} · What if" + (f"; edited run: {result['edit']['described']}"
                                                               if "edit" in result else ""),
               f"Image: {image_name}", result["fragment"]]
    text_width = width + 2 * 48
    head = _wrap(title, font, text_width)
    foot = [part for text in caption for part in _wrap(text, font, text_width)]
    left, top = margin + 48, margin + line * len(head) + 12
    out = Image.new("RGB", (text_width + 2 * margin, top + height + 46 + line * len(foot) + margin), "white")
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(head):
        draw.text((margin, margin + i * line), text, fill=INK, font=font)
    draw.rectangle((left, top, left + width, top + height), outline=(180, 180, 180))
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x, y = left + round(tick * width), top + height - round(tick * height)
        draw.line((left - 4, y, left, y), fill=INK)
        draw.text((margin, y - 7), f"{tick:g}", fill=INK, font=font)
        draw.line((x, top + height, x, top + height + 4), fill=INK)
        draw.text((x - 8, top + height + 6), f"{tick:g}", fill=INK, font=font)
    draw.text((left + width // 2 - 80, top + height + 22), "fraction of patches removed", fill=INK, font=font)
    points = [(left + round(s["removed"] * width), top + height - round(s["probability"] * height)) for s in curve]
    colour = viridis.colour(80 if asked["map"] == "deletion" else 180)
    draw.line(points, fill=colour, width=2)
    for x, y in points:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
    for i, text in enumerate(foot):
        draw.text((margin, top + height + 46 + i * line), text, fill=INK, font=font)
    return out
