"""Small tensor arithmetic for the page: standard library only, on flat float32 buffers.

The page holds model outputs as memoryviews over onnxruntime-web's typed arrays; these helpers
read them in place (no conversion of big tensors to lists). Under CPython the same functions
are tested against numpy.
"""
import math
import operator
from array import array

try:
    from math import sumprod
except ImportError:  # CPython < 3.12
    def sumprod(p, q):
        return sum(map(operator.mul, p, q))


def as_floats(buffer):
    """A float32 view of bytes or a memoryview, without copying."""
    view = memoryview(buffer)
    if view.format == "f":
        return view
    return view.cast("B").cast("f")


def size(shape):
    return math.prod(shape)


def softmax(values):
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = math.fsum(exps)
    return [e / total for e in exps]


def top_k(values, k):
    """(index, value) of the k largest values, largest first; ties keep the lower index."""
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    return [(i, values[i]) for i in order[:k]]


def token_rows(flat, tokens, dim):
    """Rows of a (tokens, dim) tensor as memoryview slices."""
    if len(flat) != tokens * dim:
        raise ValueError(f"{len(flat)} values cannot be {tokens} tokens x {dim}")
    return [flat[t * dim:(t + 1) * dim] for t in range(tokens)]


def cosine_row(flat, tokens, dim, query):
    """Cosine similarity between token `query` and every token of a (tokens, dim) tensor."""
    rows = token_rows(flat, tokens, dim)
    if not 0 <= query < tokens:
        raise IndexError(f"token {query} is outside 0..{tokens - 1}")
    q = rows[query]
    q_norm = math.sqrt(sumprod(q, q))
    result = []
    for row in rows:
        norm = math.sqrt(sumprod(row, row))
        result.append(sumprod(q, row) / (q_norm * norm) if q_norm and norm else 0.0)
    return result


def channel(flat, tokens, dim, c):
    """Column c of a (tokens, dim) tensor: one value per token."""
    if not 0 <= c < dim:
        raise IndexError(f"channel {c} is outside 0..{dim - 1}")
    return flat[c::dim].tolist() if isinstance(flat, memoryview) else list(flat[c::dim])


def percentiles(values, qs):
    """The qs-th percentiles (0..100) with linear interpolation, as numpy's default; one sort for all."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    last = len(ordered) - 1
    result = []
    for q in qs:
        position = last * q / 100
        low = math.floor(position)
        high = min(low + 1, last)
        result.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return result


def levels(values, low=None, high=None):
    """The steps (0..255) of the page's colour maps: each value placed between low and high (default:
    their min and max), clipped, times 255, rounded half up as JavaScript's Math.round; 128 for all
    when low == high, 0 for NaN.

    Every map of every interaction goes through here: comparisons rather than min()/max() calls per
    value make it about 2.5x faster.
    """
    low = min(values) if low is None else low
    high = max(values) if high is None else high
    span = high - low
    if span <= 0:
        return bytes([128]) * len(values)
    return bytes([255 if v >= high else int(255 * ((v - low) / span) + 0.5) if v > low else 0 for v in values])


def substitute_token(flat, tokens, dim, token, into=0):
    """A copy of a (tokens, dim) tensor whose row `into` (CLS) holds row `token` instead (Fig. 11)."""
    if len(flat) != tokens * dim:
        raise ValueError(f"{len(flat)} values cannot be {tokens} tokens x {dim}")
    if not 0 <= token < tokens:
        raise IndexError(f"token {token} is outside 0..{tokens - 1}")
    out = array("f", flat)
    out[into * dim:(into + 1) * dim] = array("f", flat[token * dim:(token + 1) * dim])
    return out


def gelu(x):
    """GELU(x) = x * Phi(x), the exact (erf) form used by the exported models."""
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def curve(function, low, high, samples=200):
    """(x, function(x)) at evenly spaced points: the graph a view draws behind real values."""
    step = (high - low) / (samples - 1)
    return [(low + i * step, function(low + i * step)) for i in range(samples)]
