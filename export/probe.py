"""Expose every intermediate tensor of a ViT-family classifier under a stable semantic name.

`ProbedModel` wraps a Hugging Face classifier: hooks and a recording attention function collect
the model's own tensors during one forward pass, and the forward returns them all, so a tracing
exporter turns each into a named graph output. The attention function repeats the eager
implementation's arithmetic step for step; it only also keeps the pre-softmax scores.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AttentionInterface

from .families import Family
from .shared import names

ATTENTION = "vitlens_probe"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    stage: str
    meaning: str


def tensor_specs(family: Family, num_layers: int) -> list[TensorSpec]:
    """Every exposed tensor, in the order the forward pass computes it."""
    specs = [
        TensorSpec(names.PATCH_CONV, names.EMBEDDINGS,
                   "patch-embedding convolution output: one channel map per hidden unit over the patch grid"),
        TensorSpec(names.PATCHES, names.EMBEDDINGS,
                   "patch embeddings flattened to one token per patch"),
        TensorSpec(names.WITH_CLS, names.EMBEDDINGS,
                   "patch tokens after the learned " + " and ".join(family.token_labels)
                   + " token(s) are prepended"),
        TensorSpec(names.POSITION, names.EMBEDDINGS,
                   "position embeddings added to each token"
                   + (" (bicubically resized to this image's patch grid)" if family.name == "dinov2" else "")),
        TensorSpec(names.EMBEDDINGS_OUTPUT, names.EMBEDDINGS,
                   "tokens entering block 1: embeddings plus position embeddings"),
    ]
    for i in range(num_layers):
        stage, n = names.block(i), i + 1

        def spec(part, meaning, i=i, stage=stage):
            return TensorSpec(names.in_block(i, part), stage, meaning)
        specs += [
            spec(names.NORM_BEFORE, f"block {n} input after the LayerNorm before attention"),
            spec(names.QUERY, f"block {n} queries, per head"),
            spec(names.KEY, f"block {n} keys, per head"),
            spec(names.VALUE, f"block {n} values, per head"),
            spec(names.SCORES, f"block {n} attention scores Q.K^T / sqrt(head size), before softmax"),
            spec(names.PROBS, f"block {n} attention probabilities: softmax of the scores over keys"),
            spec(names.CONTEXT, f"block {n} attention-weighted sum of values, heads concatenated"),
            spec(names.ATTENTION_OUTPUT, f"block {n} attention output after the output projection"),
        ]
        if family.layer_scale:
            specs.append(spec(names.LAYER_SCALE1, f"block {n} attention output scaled per channel by layer-scale"))
        specs += [
            spec(names.RESIDUAL, f"block {n} first residual: block input plus attention branch"),
            spec(names.NORM_AFTER, f"block {n} first residual after the LayerNorm before the MLP"),
            spec(names.MLP_PRE_ACT, f"block {n} MLP first linear layer, before the activation"),
            spec(names.MLP_POST_ACT, f"block {n} MLP hidden units after the GELU activation"),
            spec(names.MLP_OUTPUT, f"block {n} MLP output after the second linear layer"),
        ]
        if family.layer_scale:
            specs.append(spec(names.LAYER_SCALE2, f"block {n} MLP output scaled per channel by layer-scale"))
        specs.append(spec(names.OUTPUT, f"block {n} output: first residual plus MLP branch"))
    specs += [
        TensorSpec(names.FINAL_NORM, names.HEAD, "tokens after the final LayerNorm"),
        TensorSpec(names.POOLED, names.HEAD, "the vector the classifier reads: " + family.pooled),
    ]
    if "distillation_classifier" in family.head:
        specs.append(TensorSpec(names.POOLED_DISTILLATION, names.HEAD,
                                "the distillation-token vector the distillation classifier reads"))
    specs.append(TensorSpec(names.LOGITS, names.HEAD, "class scores: " + family.head))
    return specs


def _first(output):
    return output[0] if isinstance(output, (tuple, list)) else output


def _recording_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """The eager attention of modeling_vit/deit/dinov2, also recording Q, K, V, scores and probs."""
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (batch, heads, tokens, tokens)
    probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    probs = nn.functional.dropout(probs, p=dropout, training=module.training)
    if attention_mask is not None:
        probs = probs * attention_mask
    context = torch.matmul(probs, value).transpose(1, 2).contiguous()  # (batch, tokens, heads, head size)
    record = getattr(module, "_vitlens_record", None)
    if record is not None:
        block = module._vitlens_block
        for part, tensor in ((names.QUERY, query), (names.KEY, key), (names.VALUE, value), (names.SCORES, scores),
                             (names.PROBS, probs)):
            record(names.in_block(block, part), tensor)
    return context, probs


AttentionInterface.register(ATTENTION, _recording_attention)


class Probe:
    """Context manager: while active, the model's forward fills `self.tensors`."""

    def __init__(self, model: nn.Module, family: Family):
        self.model, self.family = model, family
        self.tensors: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._handles = []
        self._saved_attn = None

    def record(self, name: str, tensor: torch.Tensor):
        if name in self.tensors:
            raise RuntimeError(f"tensor {name} recorded twice: was the model run twice inside one probe?")
        self.tensors[name] = tensor

    def _on_output(self, module: nn.Module, name: str):
        self._handles.append(module.register_forward_hook(lambda m, i, o: self.record(name, _first(o))))

    def _on_input(self, module: nn.Module, name: str):
        self._handles.append(module.register_forward_pre_hook(lambda m, i: self.record(name, i[0])))

    def __enter__(self):
        fam, model = self.family, self.model
        base = fam.base_model(model)
        emb = base.embeddings
        self._on_output(emb.patch_embeddings.projection, names.PATCH_CONV)
        self._on_output(emb.patch_embeddings, names.PATCHES)
        self._handles.append(emb.patch_embeddings.register_forward_hook(self._record_tokens))
        if fam.name == "dinov2":
            resize = emb.interpolate_pos_encoding
            emb.interpolate_pos_encoding = lambda *a: self._record_position(resize(*a))
        self._on_output(emb, names.EMBEDDINGS_OUTPUT)
        for i, block in enumerate(fam.blocks(model)):
            self._on_output(block.get_submodule(fam.norm_before), names.in_block(i, names.NORM_BEFORE))
            self_attention = block.attention.attention
            self_attention._vitlens_record = self.record
            self_attention._vitlens_block = i
            self._on_output(self_attention, names.in_block(i, names.CONTEXT))
            self._on_output(block.attention.output, names.in_block(i, names.ATTENTION_OUTPUT))
            if fam.layer_scale:
                self._on_output(block.get_submodule(fam.layer_scale[0]), names.in_block(i, names.LAYER_SCALE1))
            self._on_input(block.get_submodule(fam.norm_after), names.in_block(i, names.RESIDUAL))
            self._on_output(block.get_submodule(fam.norm_after), names.in_block(i, names.NORM_AFTER))
            self._on_output(block.get_submodule(fam.mlp_in), names.in_block(i, names.MLP_PRE_ACT))
            self._on_output(block.get_submodule(fam.mlp_act), names.in_block(i, names.MLP_POST_ACT))
            self._on_output(block.get_submodule(fam.mlp_out), names.in_block(i, names.MLP_OUTPUT))
            if fam.layer_scale:
                self._on_output(block.get_submodule(fam.layer_scale[1]), names.in_block(i, names.LAYER_SCALE2))
            self._on_output(block, names.in_block(i, names.OUTPUT))
        self._on_output(base.layernorm, names.FINAL_NORM)
        if hasattr(model, "classifier"):
            self._on_input(model.classifier, names.POOLED)
        else:
            self._on_input(model.cls_classifier, names.POOLED)
            self._on_input(model.distillation_classifier, names.POOLED_DISTILLATION)
        self._saved_attn = model.config._attn_implementation
        model.config._attn_implementation = ATTENTION
        return self

    def _record_tokens(self, module, inputs, patches):
        """Record the token sequence as the embeddings module forms it.

        The concatenation happens inside the embeddings' forward, out of reach of hooks; this
        repeats it (the same op on the same values). ViT and DeiT add their position parameter
        as it is; DINOv2 resizes it to the grid, recorded where that happens.
        """
        emb = self.family.base_model(self.model).embeddings
        batch = patches.shape[0]
        specials = [getattr(emb, t).expand(batch, -1, -1) for t in self.family.special_tokens]
        self.record(names.WITH_CLS, torch.cat((*specials, patches), dim=1))  # (batch, tokens, hidden)
        if self.family.name != "dinov2":
            self.record(names.POSITION, emb.position_embeddings.expand(batch, -1, -1))

    def _record_position(self, position: torch.Tensor) -> torch.Tensor:
        self.record(names.POSITION, position)
        return position

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        vars(self.family.base_model(self.model).embeddings).pop("interpolate_pos_encoding", None)
        for block in self.family.blocks(self.model):
            del block.attention.attention._vitlens_record, block.attention.attention._vitlens_block
        self.model.config._attn_implementation = self._saved_attn
        return False


class ProbedModel(nn.Module):
    """A classifier whose forward returns every exposed tensor, in `specs` order."""

    def __init__(self, model: nn.Module, family: Family):
        super().__init__()
        self.model, self.family = model, family
        self.specs = tensor_specs(family, len(family.blocks(model)))
        self.config = model.config

    def forward(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        with Probe(self.model, self.family) as probe:
            logits = self.model(pixel_values=pixel_values).logits
        probe.record(names.LOGITS, logits)
        wanted = [s.name for s in self.specs]
        missing = [n for n in wanted if n not in probe.tensors]
        extra = [n for n in probe.tensors if n not in wanted]
        if missing or extra:
            raise RuntimeError(f"probe mismatch: missing {missing}, unexpected {extra}")
        return OrderedDict((n, probe.tensors[n]) for n in wanted)
