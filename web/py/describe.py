"""Text alternatives for the maps over the patch grid (issue #43): in words, what a sighted reader
sees in the colours, so a screen reader says it too. Every map's canvas carries one, and it changes
with the map.

Standard library only: the page and the tests under CPython read the same sentences.
"""
SHOWN = 3  # patches named at each end


def place(patch, cols):
    """A patch as the page's readouts show it (detail.token_label): row and column from 0."""
    row, col = divmod(patch, cols)
    return f"row {row}, column {col}"


def listing(items):
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def corners(rows, cols):
    return {0, cols - 1, (rows - 1) * cols, rows * cols - 1}


def end(ranked, values, rows, cols):
    """The patches of one end of a map: the first named with its value, "the corners" when they are."""
    if rows > 2 and cols > 2 and len(ranked) > 1 and set(ranked) <= corners(rows, cols):
        return f"the corners ({values[ranked[0]]:.2f})"
    named = [place(p, cols) for p in ranked]
    named[0] += f" ({values[ranked[0]]:.2f})"
    return listing(named)


def grid_map(title, values, rows, cols, removed=()):
    """"<title>: highest at row 8, column 7 (0.89), row 9, column 7 and row 8, column 8; lowest at ...".

    `values`: one per patch, row-major; `removed`: patches a what-if run left out (they are not read).
    """
    present = [p for p in range(len(values)) if p not in removed]
    if not present:
        return f"{title}: no patch is left."
    ranked = sorted(present, key=lambda p: (-values[p], p))
    if values[ranked[0]] == values[ranked[-1]]:
        return f"{title}: the same value, {values[ranked[0]]:.2f}, at every patch."
    shown = min(SHOWN, len(ranked) // 2) or 1
    high = end(ranked[:shown], values, rows, cols)
    low = end(sorted(ranked[-shown:], key=lambda p: (values[p], p)), values, rows, cols)
    gone = f" {len(removed)} patch{'es are' if len(removed) > 1 else ' is'} removed." if removed else ""
    return f"{title}: highest at {high}; lowest at {low}.{gone}"


def class_map(title, classes, probabilities, labels, cols, removed=()):
    """The logit lens: each patch's predicted class. Which classes cover most patches, and the most
    confident patch of the first."""
    present = [p for p in range(len(classes)) if p not in removed]
    counts = {}
    for p in present:
        counts[classes[p]] = counts.get(classes[p], 0) + 1
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    parts = [f"{labels[c]} at {counts[c]} patch{'es' if counts[c] > 1 else ''}" for c in ranked[:SHOWN]]
    top = [p for p in present if classes[p] == ranked[0]]
    surest = max(top, key=lambda p: (probabilities[p], -p))
    return (f"{title}: {listing(parts)} of {len(present)}; {labels[ranked[0]]} most surely at "
            f"{place(surest, cols)} ({probabilities[surest]:.2f}).")


def small_maps(title, first, ranges, total):
    """Model detail's grid of small maps (one per channel, head or block): which are shown, and the
    range of their values. `ranges`: each shown map's (minimum, maximum); `first`: the first's index."""
    low = min(r[0] for r in ranges)
    at, high = max(enumerate(r[1] for r in ranges), key=lambda item: (item[1], -item[0]))
    return (f"{title}: maps {first + 1} to {first + len(ranges)} of {total}; values from {low:.3g} to {high:.3g}, "
            f"the largest in map {first + at + 1}.")
