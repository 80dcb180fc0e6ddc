"""The arithmetic the operation views animate, recomputed step by step from the model's tensors.

Standard library only. Each function redoes one operation of the forward pass for one position
(a patch, a query token, a token's features) from the inputs and learned parameters the model
used, so a modal can show the terms next to the value the model itself computed.
"""
import math

from tensors import softmax, sumprod


def patch_pixels(pixel_values, height, width, patch, row, col):
    """The (3, patch, patch) block of a (3, height, width) image under the patch at (row, col), flat."""
    if len(pixel_values) != 3 * height * width:
        raise ValueError(f"{len(pixel_values)} values cannot be a 3x{height}x{width} image")
    if not (0 <= row < height // patch and 0 <= col < width // patch):
        raise IndexError(f"patch ({row}, {col}) is outside the {height // patch}x{width // patch} grid")
    out = []
    for c in range(3):
        for y in range(row * patch, (row + 1) * patch):
            start = (c * height + y) * width + col * patch
            out.extend(pixel_values[start:start + patch])
    return out


def patch_embedding(pixel_values, kernel, bias, unit, height, width, patch):
    """Hidden unit `unit` of every patch: the kernel's dot product with the patch's pixels, plus bias.

    Returns one (weighted sum, output) pair per patch, in grid order.
    """
    size = 3 * patch * patch
    if not 0 <= unit < len(bias):
        raise IndexError(f"hidden unit {unit} is outside 0..{len(bias) - 1}")
    weights = kernel[unit * size:(unit + 1) * size]  # (3, patch, patch)
    steps = []
    for row in range(height // patch):
        for col in range(width // patch):
            total = sumprod(weights, patch_pixels(pixel_values, height, width, patch, row, col))
            steps.append((total, total + bias[unit]))
    return steps


def image_bytes(pixel_values, height, width, mean, std):
    """The model's input undone to RGBA bytes (rows of pixels): what the kernel really saw."""
    plane = height * width
    out = bytearray(4 * plane)
    for c in range(3):
        m, s = mean[c], std[c]
        for i in range(plane):
            out[4 * i + c] = min(255, max(0, round((pixel_values[c * plane + i] * s + m) * 255)))
    out[3::4] = b"\xff" * plane
    return bytes(out)


def layer_norm(x, gamma, beta, eps):
    """LayerNorm of one token, with its mean, variance and each feature's normalised value."""
    if not len(x) == len(gamma) == len(beta):
        raise ValueError(f"{len(x)} features, {len(gamma)} scales and {len(beta)} shifts do not match")
    n = len(x)
    mean = math.fsum(x) / n
    variance = math.fsum((v - mean) ** 2 for v in x) / n  # biased, as LayerNorm
    scale = 1 / math.sqrt(variance + eps)
    normalised = [(v - mean) * scale for v in x]
    return {"mean": mean, "variance": variance, "normalised": normalised,
            "output": [z * g + b for z, g, b in zip(normalised, gamma, beta)]}


def attention_row(query, key, heads, tokens, head_size, head, token):
    """One query token's scores q·k / sqrt(d) against every key of one head, and their softmax."""
    if not 0 <= head < heads:
        raise IndexError(f"head {head} is outside 0..{heads - 1}")
    if not 0 <= token < tokens:
        raise IndexError(f"token {token} is outside 0..{tokens - 1}")
    if len(query) != heads * tokens * head_size or len(key) != len(query):
        raise ValueError(f"queries and keys must be {heads} heads x {tokens} tokens x {head_size}")
    base = head * tokens * head_size  # (heads, tokens, head_size)
    q = query[base + token * head_size:base + (token + 1) * head_size]
    scale = 1 / math.sqrt(head_size)
    scores = [sumprod(q, key[base + j * head_size:base + (j + 1) * head_size]) * scale for j in range(tokens)]
    return scores, softmax(scores)
