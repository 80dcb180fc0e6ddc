"""Which Hugging Face checkpoints ViT Lens can open, and where each family keeps its parts.

The three families share one block layout (pre-norm attention, residual, pre-norm MLP, residual);
they differ in module names, special tokens, layer-scale and what the classifier reads.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: `vit-lens --help` need not load torch
    from torch import nn


TOKEN_LABELS = {"cls_token": "CLS", "distillation_token": "DIST"}


@dataclass(frozen=True)
class Family:
    name: str  # "vit" | "deit" | "dinov2"
    base: str  # attribute of the classifier holding the backbone
    norm_before: str  # per-block module names, relative to one block
    norm_after: str
    mlp_in: str  # Linear before the activation
    mlp_act: str  # the activation module
    mlp_out: str  # Linear after the activation
    layer_scale: tuple[str, str] | None
    special_tokens: tuple[str, ...]  # parameters of the embeddings, in token order
    head: str  # how logits are formed from the final hidden states
    pooled: str  # what the classifier reads
    reads_patches: bool = False  # the classifier reads the patch tokens too: removing them all leaves it nothing

    @property
    def token_labels(self) -> list[str]:
        return [TOKEN_LABELS[t] for t in self.special_tokens]

    def base_model(self, model: nn.Module) -> nn.Module:
        return getattr(model, self.base)

    def blocks(self, model: nn.Module) -> nn.ModuleList:
        return self.base_model(model).encoder.layer


VIT = Family(
    name="vit", base="vit",
    norm_before="layernorm_before", norm_after="layernorm_after",
    mlp_in="intermediate.dense", mlp_act="intermediate.intermediate_act_fn", mlp_out="output.dense",
    layer_scale=None, special_tokens=("cls_token",),
    head="classifier(CLS)", pooled="the CLS token after the final LayerNorm",
)
DEIT = replace(VIT, name="deit", base="deit", special_tokens=("cls_token", "distillation_token"))
DEIT_TEACHER = replace(
    DEIT, head="(cls_classifier(CLS) + distillation_classifier(DIST)) / 2",
    pooled="the CLS token after the final LayerNorm, read by the class-token classifier",
)
DINOV2 = Family(
    name="dinov2", base="dinov2",
    norm_before="norm1", norm_after="norm2",
    mlp_in="mlp.fc1", mlp_act="mlp.activation", mlp_out="mlp.fc2",
    layer_scale=("layer_scale1", "layer_scale2"), special_tokens=("cls_token",),
    head="classifier(concat(CLS, mean of patch tokens))",
    pooled="the CLS token concatenated with the mean of the patch tokens, after the final LayerNorm",
    reads_patches=True,
)

SUPPORTED = {
    "ViTForImageClassification": VIT,
    "DeiTForImageClassification": DEIT,
    "DeiTForImageClassificationWithTeacher": DEIT_TEACHER,
    "Dinov2ForImageClassification": DINOV2,
}


class UnsupportedModel(ValueError):
    """A checkpoint that is not one of the supported ViT-family image classifiers."""


def supported_list() -> str:
    return ", ".join(SUPPORTED)


def family_of(architecture: str) -> Family:
    try:
        return SUPPORTED[architecture]
    except KeyError:
        raise UnsupportedModel(
            f"{architecture} is not supported; ViT Lens exports {supported_list()}"
        ) from None


def check_config(config) -> str:
    """Reject what the views cannot show before spending minutes on an export."""
    architectures = getattr(config, "architectures", None) or []
    if not architectures:
        raise UnsupportedModel(
            f"the checkpoint's config names no architecture (model_type={config.model_type!r}); "
            f"ViT Lens exports {supported_list()}"
        )
    architecture = architectures[0]
    family_of(architecture)
    if getattr(config, "use_swiglu_ffn", False):
        raise UnsupportedModel("DINOv2 checkpoints with a SwiGLU MLP (giant) are not supported")
    if not getattr(config, "id2label", None):
        raise UnsupportedModel("the checkpoint has no class labels (config.id2label)")
    return architecture
