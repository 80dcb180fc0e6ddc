"""What-if edits (issue #42): patches a run leaves out or replaces, heads it knocks out, and the
deletion and insertion curves that remove patches in a map's order.

Standard library only: the page's store and URL, `vit-lens explain` and the tests read these rules.
Numbers are the ones the page shows: patches from 0, row-major; blocks and heads from 1. In a URL and
on the command line a patch list is "12,13,40" or with ranges "12-15,40", and knocked-out heads are
"BLOCK.HEAD" pairs, "3.2,5.1".
"""
import itertools
import math
import random
from dataclasses import dataclass

import tensor_names as names

FILLS = ("mean", "blur", "sample")  # a replaced patch gets the image's mean colour, a blurred copy, or a sample's patch
CURVES = ("deletion", "insertion")
ORDERS = ("similarity", "attention", "rollout", "relevance", "random")  # the maps a curve can follow
STEPS = 16  # a curve removes patches in this many steps
SEED = 0  # the random order's seed: the page and the CLI draw the same order


class EditError(ValueError):
    """An edit that cannot be made, said in one sentence that names what is valid."""


@dataclass(frozen=True)
class Edit:
    removed: tuple = ()  # patches whose tokens are left out after the embeddings
    replaced: tuple = ()  # patches whose pixels are replaced before preprocessing
    fill: str = "mean"  # what replaces them: "mean", "blur" or "sample:<sample id>"
    knocked: tuple = ()  # (block, head) pairs, from 1, whose attention probabilities are set to 0

    def __bool__(self):
        return bool(self.removed or self.replaced or self.knocked)

    def kept_tokens(self, special, num_patches):
        """The tokens the blocks read, in order: the special tokens, then every patch not removed."""
        gone = set(self.removed)
        return list(range(special)) + [special + p for p in range(num_patches) if p not in gone]

    def head_mask(self, layers, heads):
        """Hugging Face's head_mask, (layers, heads): 1 keeps a head, 0 knocks it out."""
        mask = [[1.0] * heads for _ in range(layers)]
        for block, head in self.knocked:
            mask[block - 1][head - 1] = 0.0
        return mask

    def describe(self):
        """The edit in words, for a caption or a screen reader."""
        parts = []
        if self.removed:
            parts.append(f"{_count(len(self.removed), 'patch', 'patches')} removed")
        if self.replaced:
            fill = "a sample's patch" if self.fill.startswith("sample:") else {"mean": "the mean colour",
                                                                              "blur": "a blurred copy"}[self.fill]
            parts.append(f"{_count(len(self.replaced), 'patch', 'patches')} replaced by {fill}")
        if self.knocked:
            parts.append(f"{_count(len(self.knocked), 'head', 'heads')} knocked out")
        return ", ".join(parts) or "no edit"


def _count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def parse_patches(text, num_patches, what="patches"):
    """'12-15,40' -> (12, 13, 14, 15, 40): sorted, each once."""
    found = set()
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        first, dash, last = item.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise EditError(f"{what} {text!r}: write patch numbers like 12,13,40 or a range like 12-15")
        low, high = int(first), int(last) if dash else int(first)
        for patch in (low, high):
            if patch >= num_patches:
                raise EditError(f"there is no patch {patch}: patches are numbered 0 to {num_patches - 1}")
        if high < low:
            raise EditError(f"{what} {item!r}: a range goes from the lower number to the higher")
        found.update(range(low, high + 1))
    return tuple(sorted(found))


def parse_knockout(text, layers, heads):
    """'3.2,5.1' -> ((3, 2), (5, 1)): (block, head) pairs from 1, sorted, each once."""
    found = set()
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        block, dot, head = item.partition(".")
        if not (block.isdigit() and dot and head.isdigit()):
            raise EditError(f"knock-out {item!r}: write BLOCK.HEAD pairs like 3.2,5.1 (blocks 1 to {layers}, "
                            f"heads 1 to {heads})")
        if not (1 <= int(block) <= layers and 1 <= int(head) <= heads):
            raise EditError(f"there is no head {item}: blocks are 1 to {layers} and heads 1 to {heads}")
        found.add((int(block), int(head)))
    return tuple(sorted(found))


def parse_fill(text, sample_ids):
    if text in ("mean", "blur"):
        return text
    kind, _, sample = str(text).partition(":")
    if kind == "sample" and sample in sample_ids:
        return text
    raise EditError(f"fill {text!r}: use mean, blur or sample:<id> with a sample of the model "
                    f"({', '.join(sample_ids)})")


def make(manifest, removed="", replaced="", fill="mean", knocked="", sample_ids=()):
    """An Edit from its text (the URL's or the command line's), checked against the model."""
    edit = Edit(removed=parse_patches(removed, manifest.num_patches, "remove"),
                replaced=parse_patches(replaced, manifest.num_patches, "replace"),
                fill=parse_fill(fill, sample_ids) if replaced else "mean",
                knocked=parse_knockout(knocked, manifest.num_layers, manifest.num_heads))
    check(edit, manifest)
    return edit


def check(edit, manifest):
    both = set(edit.removed) & set(edit.replaced)
    if both:
        raise EditError(f"patch {min(both)} cannot be both removed and replaced")
    if len(edit.removed) == manifest.num_patches and manifest.head_reads_patches:
        raise EditError("removing every patch leaves nothing to classify: this model's head reads the mean of the "
                        "patch tokens; keep at least one patch")


def patch_list(patches):
    """(12, 13, 14, 15, 40) -> '12-15,40': the compact form the URL keeps."""
    runs, patches = [], sorted(patches)
    for patch in patches:
        if runs and patch == runs[-1][1] + 1:
            runs[-1][1] = patch
        else:
            runs.append([patch, patch])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def knockout_list(knocked):
    return ",".join(f"{block}.{head}" for block, head in sorted(knocked))


# Faithfulness curves: remove patches in a map's order, most important first.

def order_of(values):
    """Patches from the map's highest value to its lowest (ties: the lower patch number first)."""
    return sorted(range(len(values)), key=lambda p: (-values[p], p))


def random_order(num_patches, seed=SEED):
    """The baseline: a seeded shuffle (CPython and Pyodide draw the same)."""
    order = list(range(num_patches))
    random.Random(seed).shuffle(order)
    return order


def removed_counts(num_patches, may_remove_all, steps=STEPS):
    """How many patches each step of a curve has removed: 0 (the unedited run) to all of them in
    `steps` equal steps; the last is left out when the head cannot read CLS alone."""
    counts = sorted({round(k * num_patches / steps) for k in range(steps + 1)})
    return counts if may_remove_all else [c for c in counts if c < num_patches]


def curve_edit(curve, order, count):
    """The patches removed at a step: deletion removes the `count` most important patches; insertion
    has put back all but the `count` least important (most important first), leaving the same
    number removed."""
    if curve not in CURVES:
        raise EditError(f"curve {curve!r}: use {' or '.join(CURVES)}")
    gone = order[:count] if curve == "deletion" else order[len(order) - count:]
    return Edit(removed=tuple(sorted(gone)))


def area(curve):
    """The mean probability under a curve of {'removed', 'probability'} steps: the trapezoid rule over
    the removed fraction, divided by the span it covers (lower is better for deletion, higher for
    insertion)."""
    if len(curve) < 2:
        return curve[0]["probability"] if curve else math.nan
    total = math.fsum((b["removed"] - a["removed"]) * (a["probability"] + b["probability"]) / 2
                      for a, b in itertools.pairwise(curve))
    return total / (curve[-1]["removed"] - curve[0]["removed"])



def token_axes(name, rank):
    """The axes of a tensor of an edited run that run over its tokens (fewer when patches are removed):
    the embeddings' output (the tokens block 1 reads), every tensor after it, and analysis.onnx's and
    relevance.onnx's outputs."""
    if name.startswith(names.BLOCK_PREFIX):
        square = name.endswith((names.SCORES, names.PROBS, names.gradient(names.PROBS)))
        return {3: (1,), 4: (2, 3) if square else (2,)}.get(rank, ())
    if name in (names.analysis("similarity"), *(names.analysis(f"rollout.{f}") for f in names.FUSIONS)):
        return (1, 2)
    if name in (names.EMBEDDINGS_OUTPUT, names.FINAL_NORM, names.analysis("norms"), names.analysis("lens"),
                names.RELEVANCE_BLOCKS):
        return (1,)
    return (0,) if name == names.RELEVANCE else ()
