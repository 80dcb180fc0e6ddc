"""The maps' text alternatives (web/py/describe.py): what they name is what the numbers say."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web" / "py"))
import describe


def test_a_map_names_its_highest_and_lowest_patches_with_values():
    values = [0.1] * 16
    values[6], values[10], values[5] = 0.89, 0.8, 0.85
    values[0], values[3], values[12], values[15] = -0.2, -0.3, -0.25, -0.4
    text = describe.grid_map("Cosine similarity to the token, block 12, CLS", values, 4, 4)
    assert text == ("Cosine similarity to the token, block 12, CLS: highest at row 1, column 2 (0.89), "
                    "row 1, column 1 and row 2, column 2; lowest at the corners (-0.40).")


def test_the_named_patches_are_the_extremes_of_random_maps():
    rng = np.random.default_rng(0)
    for _ in range(50):
        rows, cols = rng.integers(2, 16, size=2)
        values = rng.normal(size=rows * cols).tolist()
        text = describe.grid_map("m", values, rows, cols)
        top = int(np.argmax(values))
        assert f"highest at {describe.place(top, cols)} ({values[top]:.2f})" in text
        low = int(np.argmin(values))
        assert describe.place(low, cols) in text.split("lowest at")[1] or "the corners" in text


def test_removed_patches_are_not_named_and_are_counted():
    values = [float(p) for p in range(16)]
    text = describe.grid_map("m", values, 4, 4, removed={15, 14})
    assert "row 3, column 3" not in text and "(13.00)" in text and "2 patches are removed" in text
    assert describe.grid_map("m", values, 4, 4, removed=set(range(16))) == "m: no patch is left."


def test_a_flat_map_says_so():
    assert describe.grid_map("m", [0.5] * 4, 2, 2) == "m: the same value, 0.50, at every patch."


def test_the_logit_lens_names_the_classes_that_cover_most_patches():
    classes = [0, 0, 1, 0, 2, 1, 0, 0, 0]
    probabilities = [0.5, 0.9, 0.4, 0.3, 0.6, 0.2, 0.1, 0.7, 0.2]
    text = describe.class_map("Logit lens", classes, probabilities, ["cat", "dog", "ship"], 3)
    assert text == ("Logit lens: cat at 6 patches, dog at 2 patches and ship at 1 patch of 9; "
                    "cat most surely at row 0, column 1 (0.90).")


def test_small_maps_say_which_are_shown_and_their_range():
    text = describe.small_maps("layer.0.output, shape 197 × 384", 32, [(-1.0, 2.0), (-3.5, 4.25), (0.0, 1.0)], 384)
    assert text == "layer.0.output, shape 197 × 384: maps 33 to 35 of 384; values from -3.5 to 4.25, the largest in map 34."
