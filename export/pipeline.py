"""From a Hugging Face checkpoint to `web/model/<name>/`: parts, manifest and samples.

The folder appears whole or not at all: everything is written to a hidden sibling folder that
replaces the old one only once the parts have been checked against PyTorch.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import optimum
import torch
import transformers
from transformers import AutoConfig, AutoImageProcessor

from . import analysis, fidelity, knowledge, relevance
from .index import write_index
from .families import SUPPORTED, UnsupportedModel, check_config
from .onnx_parts import OPSET, export_whole, round_weights_fp16, split, stage_plan
from . import preprocess_graph
from .preprocess import geometry, input_size, preprocess, recipe_from_processor
from .parameters import write_parameters
from .probe import ProbedModel
from .progress import Silent
from .samples import SAMPLES, Sample, write_samples
from .shared import edits, manifest as page_manifest, names

FORMAT = page_manifest.FORMAT
TOLERANCE = 1e-4  # max abs diff relative to each tensor's range, fp32
FP16_TOLERANCE = 2e-3  # the same measure, for the effect of storing the weights as float16
WEIGHTS = ("fp16", "fp32")


class ExportError(RuntimeError):
    """A problem the user can fix: said in one line, without a traceback."""


def default_name(model_ref: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", Path(model_ref.rstrip("/")).name.lower()).strip("-.") or "model"


def load(model_ref: str):
    """The classifier, its preprocessing recipe, and the family adapter."""
    if Path(model_ref).is_dir() and not (Path(model_ref) / "config.json").is_file():
        # checked here: transformers would guess a model type from the folder's name ("empty" -> mpt)
        raise ExportError(f"cannot read a Hugging Face config from {model_ref!r}: the folder has no config.json")
    try:
        config = AutoConfig.from_pretrained(model_ref)
    except (OSError, ValueError) as error:
        raise ExportError(f"cannot read a Hugging Face config from {model_ref!r}: {_first_line(error)}") from None
    try:
        architecture = check_config(config)
    except UnsupportedModel as error:
        raise ExportError(str(error)) from None
    model_class = getattr(transformers, architecture)
    try:
        model = model_class.from_pretrained(model_ref, attn_implementation="eager").eval()
    except Exception as error:  # a truncated or foreign weights file raises many kinds of errors
        raise ExportError(f"cannot load the weights of {model_ref!r}: {_first_line(error)}") from None
    try:
        processor = AutoImageProcessor.from_pretrained(model_ref)
    except (OSError, ValueError):
        raise ExportError(f"{model_ref!r} has no image processor (preprocessor_config.json), so its input size and "
                          "normalisation are unknown: save the processor it was trained with next to the weights "
                          "(processor.save_pretrained(folder))") from None
    return model, recipe_from_processor(processor), SUPPORTED[architecture]


def source_name(model_ref: str) -> str:
    """What the manifest says the model came from: a hub id as given, a local folder by its name
    only (a published manifest must not carry the builder's paths)."""
    return Path(model_ref).resolve().name if Path(model_ref).exists() else model_ref


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def build_manifest(name, title, model_ref, model, family, recipe, specs, shapes, parts, samples, diffs,
                   parameters, storage):
    config = model.config
    height, width = input_size(recipe)
    patch = config.patch_size
    grid = [height // patch, width // patch]
    special = family.token_labels
    labels = [config.id2label[i] for i in sorted(config.id2label, key=int)]
    return {
        "format": FORMAT,
        "name": name,
        "title": title,
        "source": source_name(model_ref),
        "architecture": config.architectures[0],
        "family": family.name,
        "image_size": [height, width],
        "patch_size": patch,
        "grid": grid,
        "num_patches": grid[0] * grid[1],
        "special_tokens": special,
        "tokens": len(special) + grid[0] * grid[1],
        "hidden_size": config.hidden_size,
        "num_heads": config.num_attention_heads,
        "head_size": config.hidden_size // config.num_attention_heads,
        "mlp_size": shapes[names.in_block(0, names.MLP_PRE_ACT)][-1],
        "num_layers": config.num_hidden_layers,
        "activation": config.hidden_act,
        "layer_norm_eps": config.layer_norm_eps,
        "layer_scale": family.layer_scale is not None,
        "head": family.head,
        "head_reads_patches": family.reads_patches,
        "labels": labels,
        "preprocessing": {**recipe, "graph": "preprocess.onnx"},
        "stages": parts,
        "tensors": [{"name": names.PIXELS, "shape": [1, 3, height, width], "stage": "input",
                     "meaning": "the preprocessed image: resized, rescaled and normalised RGB"}]
                   + [{"name": s.name, "shape": shapes[s.name], "stage": s.stage, "meaning": s.meaning}
                      for s in specs]
                   + [{"name": names.PROBABILITIES, "shape": shapes[names.LOGITS], "stage": names.HEAD,
                       "meaning": "class probabilities: the softmax of the logits"}],
        "parameters": {"file": "parameters.bin", "entries": parameters},
        "samples": samples,
        "knowledge": "knowledge.json",
        "fidelity": {"image": samples[0]["id"], "max_relative_diff": max(diffs.values()),
                     "tolerance": TOLERANCE},
        "weights": storage,
        "exported_with": {"transformers": transformers.__version__, "torch": torch.__version__,
                          "optimum": getattr(optimum, "__version__", "unknown"), "onnx": onnx.__version__,
                          "opset": OPSET},
    }


def export_model(model_ref: str, out_root: Path, name: str | None = None, title: str | None = None,
                 make_default: bool = False, weights: str = "fp16", samples: list[Sample] | None = None,
                 progress=None) -> Path:
    """weights="fp16" halves the download: the large weights are rounded to float16 and stored so
    (computing stays float32); the rounding's effect on every exposed tensor is measured and must
    stay within FP16_TOLERANCE. weights="fp32" keeps the checkpoint's values as they are.
    samples replaces the images shipped with the model (the first one is the fidelity check's);
    progress (export.progress.Progress) reports each long step."""
    progress = progress or Silent()
    samples = samples or SAMPLES
    if weights not in WEIGHTS:
        raise ExportError(f"weights {weights!r}: choose one of {', '.join(WEIGHTS)}")
    name = name or default_name(model_ref)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise ExportError(f"model name {name!r}: use lower-case letters, digits, '.', '_' and '-'")
    with progress.step(f"loading {model_ref}"):
        model, recipe, family = load(model_ref)
    labels = set(model.config.id2label.values())
    unknown = [f"{s.id} ({s.label})" for s in samples if s.path and s.label is not None and s.label not in labels]
    if unknown:
        raise ExportError(f"sample labels that are not classes of the model: {', '.join(unknown)}")
    if recipe["resample"] not in preprocess_graph.MODES:
        raise ExportError(f"the checkpoint resizes with {recipe['resample']}; the page can do "
                          f"{', '.join(preprocess_graph.MODES)}")
    height, width = input_size(recipe)
    if height % model.config.patch_size or width % model.config.patch_size:
        raise ExportError(f"input {height}x{width} is not a multiple of the patch size {model.config.patch_size}")
    probed = ProbedModel(model, family)
    grid_size = (height // model.config.patch_size) * (width // model.config.patch_size)
    pixel_values = preprocess(samples[0].load(), recipe)
    storage = {"dtype": "float32"}
    if weights == "fp16":
        with progress.step("measuring the effect of float16 weights"):
            full = fidelity.run_torch(probed, pixel_values)
            rounded = round_weights_fp16(model)
            storage_diffs = fidelity.compare(full, fidelity.run_torch(probed, pixel_values))
        worst = max(storage_diffs, key=storage_diffs.get)
        if storage_diffs[worst] > FP16_TOLERANCE:
            raise ExportError(f"float16 weights change {worst} by {storage_diffs[worst]:.2e} of its range "
                              f"(limit {FP16_TOLERANCE:g}): export with --weights fp32")
        storage = {"dtype": "float16", "compute": "float32", "rounded_parameters": rounded,
                   "image": samples[0].id, "max_relative_diff_vs_float32": storage_diffs[worst],
                   "worst_tensor": worst, "tolerance": FP16_TOLERANCE}
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=out_root))
    except OSError as error:
        raise ExportError(f"cannot write to {out_root}: {error.strerror or error}") from None
    try:
        with tempfile.TemporaryDirectory() as scratch:
            whole = Path(scratch) / "whole.onnx"
            with progress.step("tracing the model and exporting it to ONNX (optimum)"):
                export_whole(probed, (height, width), whole)
            with progress.step("splitting it into one part per stage"):
                parts = split(whole, stage_plan(probed), staging, tokens=len(family.special_tokens) + grid_size,
                              heads=model.config.num_attention_heads, fp16=weights == "fp16")
        for part in parts:
            part["bytes"] = (staging / part["file"]).stat().st_size
        with progress.step(f"writing the parameters, the preprocessing graph and {len(samples)} samples"):
            parameters = write_parameters(model, family, staging / "parameters.bin")
            onnx.save(preprocess_graph.build(recipe["resample"]), staging / "preprocess.onnx")
            sample_entries = write_samples(staging / "samples", samples)
        for sample in sample_entries:  # so the page can show its first prediction before its Python runs
            sample["preprocess_inputs"] = geometry.graph_inputs(recipe, sample["width"], sample["height"])
        with progress.step("checking every exposed tensor against PyTorch"):
            reference = fidelity.run_torch(probed, pixel_values)
            exported = fidelity.run_parts(staging, parts, pixel_values)
            diffs = fidelity.compare(reference, exported)
        worst = max(diffs, key=diffs.get)
        if diffs[worst] > TOLERANCE:
            raise ExportError(f"exported {worst} differs from PyTorch by {diffs[worst]:.2e} of its range")
        shapes = {n: list(v.shape) for n, v in reference.items()}
        manifest = build_manifest(name, title or name, model_ref, model, family, recipe, probed.specs,
                                  shapes, parts, sample_entries, diffs, parameters, storage)
        with progress.step("building and checking the analysis graph"):
            onnx.save(analysis.build(manifest, model, family), staging / "analysis.onnx")
            lens_diff = analysis.lens_error(analysis.run(staging / "analysis.onnx", exported), exported[names.LOGITS])
        if lens_diff > TOLERANCE:
            raise ExportError(f"analysis.onnx: the logit lens of CLS differs from the model's probabilities "
                              f"by {lens_diff:.2e}")
        manifest["analysis"] = analysis.manifest_entry(staging / "analysis.onnx", manifest)
        with progress.step("tracing the relevance graph (gradients) and checking it against torch.autograd"):
            relevance.build(manifest, model, family, staging / "relevance.onnx", fp16=weights == "fp16")
            checked = check_relevance(staging / "relevance.onnx", manifest, model, family, exported)
        worst = max(checked["diffs"], key=checked["diffs"].get)
        if checked["diffs"][worst] > TOLERANCE:
            raise ExportError(f"relevance.onnx: {worst} differs from torch.autograd by {checked['diffs'][worst]:.2e} "
                              "of its range")
        manifest["relevance"] = relevance.manifest_entry(staging / "relevance.onnx", manifest)
        manifest["fidelity"]["relevance"] = {"targets": checked["targets"], "max_relative_diff": checked["diffs"][worst],
                                             "worst_tensor": worst, "reference": "torch.autograd"}
        with progress.step("checking an edited run (patches removed, heads knocked out) against Hugging Face"):
            manifest["fidelity"]["edits"] = check_edits(staging, manifest, model, family, pixel_values)
        if manifest["fidelity"]["edits"]["max_relative_diff"] > TOLERANCE:
            raise ExportError(f"an edited run's {manifest['fidelity']['edits']['worst_tensor']} differs from Hugging Face "
                              f"by {manifest['fidelity']['edits']['max_relative_diff']:.2e} of its range")
        with progress.step("reading the knowledge graph from the transformers source"):
            graph = knowledge.build_graph(manifest["architecture"])
        (staging / "knowledge.json").write_text(json.dumps(graph, indent=1))
        manifest["files"] = file_digests(staging)
        page_manifest.Manifest.from_json(manifest)  # the page reads every field it needs
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
        os.chmod(staging, 0o755)
        final = out_root / name
        _replace_dir(staging, final)
    except OSError as error:  # a full disk, a folder that became unwritable: the previous export is kept
        shutil.rmtree(staging, ignore_errors=True)
        raise ExportError(f"writing {out_root / name} failed: {error.strerror or error}; "
                          "nothing was written") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_index(out_root, default=name if make_default else None)
    progress.done(f"exported {name}")
    return final


def check_relevance(path: Path, manifest: dict, model, family, exported: dict) -> dict:
    """relevance.onnx on the fidelity image's embeddings output against torch.autograd on the model, for
    its predicted class and for that class versus the runner-up: the largest difference of each output."""
    ranked = [int(i) for i in exported[names.LOGITS][0].argsort()[::-1]]
    labels, hidden = manifest["labels"], exported[names.EMBEDDINGS_OUTPUT]
    diffs, targets = {}, []
    for chosen, versus in ((ranked[0], None), (ranked[0], ranked[1] if len(ranked) > 1 else None)):
        vector = relevance.target(len(labels), chosen, versus)
        got = relevance.run(path, hidden, vector)
        want = relevance.autograd_reference(model, family, tuple(manifest["image_size"]), hidden, vector)
        for name, value in want.items():
            diffs[name] = max(diffs.get(name, 0.0), fidelity.relative_diff(value, got[name]))
        targets.append(labels[chosen] + ("" if versus is None else f" versus {labels[versus]}"))
    return {"diffs": diffs, "targets": targets}


def check_edits(folder: Path, manifest: dict, model, family, pixel_values) -> dict:
    """One what-if run of the fidelity image against the Hugging Face model given the same edit: every
    other patch removed, head 1 of the first block and the last head of the last block knocked out.
    Every tensor from block 1 on, and relevance.onnx on it against torch.autograd."""
    m = page_manifest.Manifest.from_json({**manifest, "files": {}})
    edit = edits.Edit(removed=tuple(range(1, m.num_patches, 2)), knocked=((1, 1), (m.num_layers, m.num_heads)))
    kept = edit.kept_tokens(len(m.special_tokens), m.num_patches)
    mask = np.array(edit.head_mask(m.num_layers, m.num_heads), np.float32)
    got = fidelity.Chain(folder, manifest["stages"]).run(pixel_values, kept, mask)
    diffs = fidelity.compare(fidelity.run_torch_edited(model, family, pixel_values, kept, mask), got)
    vector = relevance.target(len(m.labels), int(got[names.LOGITS][0].argmax()))
    want = relevance.autograd_reference(model, family, tuple(m.image_size), got[names.EMBEDDINGS_OUTPUT], vector, mask)
    have = relevance.run(folder / "relevance.onnx", got[names.EMBEDDINGS_OUTPUT], vector, mask)
    diffs.update({f"relevance: {name}": fidelity.relative_diff(value, have[name]) for name, value in want.items()})
    worst = max(diffs, key=diffs.get)
    return {"edit": edit.describe(), "max_relative_diff": diffs[worst], "worst_tensor": worst,
            "reference": "Hugging Face: its blocks on the kept tokens, its head_mask; torch.autograd for relevance"}


def file_digests(folder: Path) -> dict[str, dict]:
    """Bytes and sha256 of every file the page may fetch: it caches them under their digest."""
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digests[path.relative_to(folder).as_posix()] = {
            "bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return digests


def _replace_dir(new: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    new.rename(final)
    if old:
        shutil.rmtree(old)
