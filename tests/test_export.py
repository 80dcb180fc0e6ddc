"""The export step: every exposed tensor of the ONNX parts equals PyTorch's own forward."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
import transformers

from export import fidelity
from export.families import SUPPORTED
from export.pipeline import TOLERANCE, load
from export.preprocess import preprocess
from export.probe import ProbedModel
from export.samples import SAMPLES
from export.shared import names

REAL_IMAGES = [s for s in SAMPLES if s.id in ("chelsea", "rocket", "cifar10-ship")]


def hooked_reference(model, family, pixel_values):
    """Tensors read off the unmodified model with plain forward hooks and its own outputs."""
    seen = {}
    handles = []

    def keep(module, key, per_head=None):
        """Record the module's output as `key`; `per_head`: the attention whose heads it is split into."""
        def hook(m, inp, out):
            a = per_head
            seen[key] = out if a is None else out.view(out.shape[0], -1, a.num_attention_heads,
                                                        a.attention_head_size).transpose(1, 2)
        handles.append(module.register_forward_hook(hook))

    for i, block in enumerate(family.blocks(model)):
        for name, path in (("norm_before", family.norm_before), ("norm_after", family.norm_after),
                           ("mlp.pre_act", family.mlp_in), ("mlp.post_act", family.mlp_act),
                           ("mlp.output", family.mlp_out), ("attention.output", "attention.output")):
            keep(block.get_submodule(path), names.in_block(i, name))
        attention = block.attention.attention
        for name in ("query", "key", "value"):
            keep(getattr(attention, name), names.in_block(i, f"attention.{name}"), attention)
    handles.append(family.base_model(model).embeddings.patch_embeddings.projection.register_forward_hook(
        lambda m, inp, out: seen.__setitem__("embeddings.patch_conv", out)))
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(pixel_values), output_hidden_states=True, output_attentions=True)
    for h in handles:
        h.remove()
    seen["logits"] = out.logits
    seen["embeddings.output"] = out.hidden_states[0]
    for i in range(len(family.blocks(model))):
        seen[names.in_block(i, "output")] = out.hidden_states[i + 1]
        seen[names.in_block(i, "attention.probs")] = out.attentions[i]
    return {k: v.detach().numpy() for k, v in seen.items()}


@pytest.mark.parametrize("kind", ["vit", "deit", "deit_teacher", "dinov2"])
@pytest.mark.parametrize("sample", REAL_IMAGES, ids=lambda s: s.id)
def test_every_exposed_tensor_matches_pytorch(exported, tiny_checkpoints, kind, sample):
    _, folders = exported
    manifest = json.loads((folders[kind] / "manifest.json").read_text())
    model, recipe, family = load(str(tiny_checkpoints[kind]))
    pixel_values = preprocess(sample.load(), recipe)
    got = fidelity.run_parts(folders[kind], manifest["stages"], pixel_values)

    hooked = hooked_reference(model, family, pixel_values)
    assert len(hooked) > 10 * manifest["num_layers"]
    for name, reference in hooked.items():
        assert fidelity.relative_diff(reference, got[name]) <= TOLERANCE, name

    probed = fidelity.run_torch(ProbedModel(model, family), pixel_values)
    probed["probabilities"] = torch.softmax(torch.from_numpy(probed["logits"]), dim=-1).numpy()  # the head's own
    exposed = [t["name"] for t in manifest["tensors"] if t["stage"] != "input"]
    assert sorted(probed) == sorted(exposed)
    for name in exposed:
        assert list(got[name].shape) == next(t["shape"] for t in manifest["tensors"] if t["name"] == name)
        assert fidelity.relative_diff(probed[name], got[name]) <= TOLERANCE, name


def test_scores_are_pre_softmax(exported, tiny_checkpoints):
    _, folders = exported
    manifest = json.loads((folders["vit"] / "manifest.json").read_text())
    _, recipe, _ = load(str(tiny_checkpoints["vit"]))
    got = fidelity.run_parts(folders["vit"], manifest["stages"], preprocess(SAMPLES[0].load(), recipe))
    q, k = got["layer.1.attention.query"], got["layer.1.attention.key"]
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(manifest["head_size"])
    np.testing.assert_allclose(got["layer.1.attention.scores"], scores, rtol=1e-4, atol=1e-5)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(got["layer.1.attention.probs"], e / e.sum(-1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("kind", ["vit", "dinov2"])
def test_chained_parts_equal_the_whole_graph_exactly(tiny_checkpoints, kind, tmp_path):
    from export.onnx_parts import export_whole, split, stage_plan
    model, recipe, family = load(str(tiny_checkpoints[kind]))
    probed = ProbedModel(model, family)
    export_whole(probed, (32, 32), tmp_path / "whole.onnx")
    parts = split(tmp_path / "whole.onnx", stage_plan(probed), tmp_path, tokens=17, heads=4)
    pixel_values = preprocess(SAMPLES[0].load(), recipe)
    session = ort.InferenceSession(str(tmp_path / "whole.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    whole = dict(zip(names, session.run(names, {"pixel_values": pixel_values})))
    chained = fidelity.run_parts(tmp_path, parts, pixel_values)
    for name in names:
        assert np.array_equal(whole[name], chained[name]), name


def test_manifest_describes_the_model(exported):
    out, folders = exported
    manifest = json.loads((folders["dinov2"] / "manifest.json").read_text())
    assert manifest["family"] == "dinov2" and manifest["layer_scale"] is True
    assert manifest["image_size"] == [32, 32] and manifest["grid"] == [4, 4] and manifest["tokens"] == 17
    assert manifest["num_heads"] == 4 and manifest["head_size"] == 8 and manifest["num_layers"] == 2
    assert manifest["labels"] == ["cat", "dog", "ship"]
    assert manifest["preprocessing"]["crop"] == {"height": 32, "width": 32}
    assert manifest["preprocessing"]["resize"] == {"shortest_edge": 36}
    assert manifest["fidelity"]["max_relative_diff"] <= TOLERANCE
    assert [s["name"] for s in manifest["stages"]] == ["embeddings", "layer.0", "layer.1", "head"]
    for stage in manifest["stages"]:
        assert (folders["dinov2"] / stage["file"]).stat().st_size == stage["bytes"]
    for tensor in manifest["tensors"]:
        assert tensor["meaning"] and tensor["shape"][0] == 1
    names = {t["name"] for t in manifest["tensors"]}
    assert {"layer.1.layer_scale1", "layer.1.attention.scores", "pooled", "logits"} <= names
    assert next(t for t in manifest["tensors"] if t["name"] == "pooled")["shape"] == [1, 64]
    for sample in manifest["samples"]:
        assert (folders["dinov2"] / sample["file"]).is_file() and sample["licence"] and sample["source"]
    assert json.loads((folders["dinov2"] / manifest["knowledge"]).read_text())["nodes"]
    deit = json.loads((folders["deit_teacher"] / "manifest.json").read_text())
    assert deit["special_tokens"] == ["CLS", "DIST"] and deit["tokens"] == 18
    assert "pooled_distillation" in {t["name"] for t in deit["tensors"]}
    index = json.loads((out / "index.json").read_text())
    assert {m["name"] for m in index["models"]} == {"tiny-vit", "tiny-deit", "tiny-deit-teacher", "tiny-dinov2"}
    assert index["default"] in {m["name"] for m in index["models"]}


def read_parameter(folder, entry):
    """One learned tensor out of parameters.bin, as the page's runtime reads it."""
    count = int(np.prod(entry["shape"]))
    values = np.fromfile(folder / "parameters.bin", dtype="<f4", count=count, offset=entry["offset"])
    return values.reshape(entry["shape"])


@pytest.mark.parametrize("kind", ["vit", "dinov2"])
def test_parameters_reproduce_the_exposed_tensors(exported, tiny_checkpoints, kind):
    """parameters.bin holds what the operation views recompute: the patch conv and every LayerNorm."""
    _, folders = exported
    folder = folders[kind]
    manifest = json.loads((folder / "manifest.json").read_text())
    _, recipe, _ = load(str(tiny_checkpoints[kind]))
    pixel_values = preprocess(SAMPLES[0].load(), recipe)
    got = fidelity.run_parts(folder, manifest["stages"], pixel_values)
    entries = manifest["parameters"]["entries"]
    assert manifest["parameters"]["file"] == "parameters.bin"
    assert (folder / "parameters.bin").stat().st_size == sum(4 * int(np.prod(e["shape"])) for e in entries)
    param = {e["name"]: read_parameter(folder, e) for e in entries}

    kernel, bias = param["embeddings.patch.kernel"], param["embeddings.patch.bias"]
    conv = torch.nn.functional.conv2d(torch.from_numpy(pixel_values), torch.from_numpy(kernel),
                                      torch.from_numpy(bias), stride=manifest["patch_size"]).numpy()
    assert fidelity.relative_diff(conv, got["embeddings.patch_conv"]) <= TOLERANCE

    def layer_norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + manifest["layer_norm_eps"]) * param[names.scale(name)] + param[names.shift(name)]
    for i in range(manifest["num_layers"]):
        before = got[names.block_input(i)]
        for name, x in ((names.in_block(i, "norm_before"), before),
                        (names.in_block(i, "norm_after"), got[names.in_block(i, "residual")])):
            assert fidelity.relative_diff(layer_norm(x, name), got[name]) <= TOLERANCE, name
    final = layer_norm(got[names.in_block(manifest["num_layers"] - 1, "output")], "final_norm")
    assert fidelity.relative_diff(final, got["final_norm"]) <= TOLERANCE


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "export", *args], capture_output=True, text=True, timeout=600)


def test_cli_exports_a_local_folder(tiny_checkpoints, tmp_path):
    result = run_cli("--model", str(tiny_checkpoints["vit"]), "--out", str(tmp_path), "--name", "cli-vit")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli-vit" / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_rejects_a_non_vit_checkpoint(tmp_path):
    config = transformers.ResNetConfig(num_labels=2)
    transformers.ResNetForImageClassification(config).save_pretrained(tmp_path / "resnet")
    result = run_cli("--model", str(tmp_path / "resnet"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "ResNetForImageClassification is not supported" in lines[0]
    assert all(name in lines[0] for name in SUPPORTED)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_reports_a_missing_folder(tmp_path):
    result = run_cli("--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read a Hugging Face config")
    assert "Traceback" not in result.stderr


def test_corrupt_weights_fail_cleanly_and_keep_the_previous_export(tiny_checkpoints, tmp_path):
    import shutil
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoints["vit"], broken)
    assert run_cli("--model", str(broken), "--out", str(tmp_path / "out"), "--name", "m").returncode == 0
    before = (tmp_path / "out" / "m" / "manifest.json").read_bytes()
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = run_cli("--model", str(broken), "--out", str(tmp_path / "out"), "--name", "m")
    assert result.returncode == 2 and result.stderr.startswith("error: cannot load the weights")
    assert (tmp_path / "out" / "m" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.json", "m"]


def test_a_failure_mid_export_leaves_no_half_written_folder(tiny_checkpoints, tmp_path, monkeypatch):
    from export import pipeline

    def fail(*_):
        raise RuntimeError("disk full")
    monkeypatch.setattr(pipeline, "write_samples", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.export_model(str(tiny_checkpoints["vit"]), tmp_path, name="half")
    assert list(tmp_path.iterdir()) == []


def test_full_size_vit_b16_shapes(tmp_path):
    """The paper's model size (random weights): 197 tokens x 768, 12 layers, 12 heads."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(num_labels=10, id2label={i: f"class {i}" for i in range(10)},
                                    label2id={f"class {i}": i for i in range(10)})
    transformers.ViTForImageClassification(config).save_pretrained(tmp_path / "vit-b16")
    transformers.ViTImageProcessor().save_pretrained(tmp_path / "vit-b16")
    from export.pipeline import export_model
    folder = export_model(str(tmp_path / "vit-b16"), tmp_path / "out")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tokens"] == 197 and manifest["hidden_size"] == 768
    assert manifest["num_layers"] == 12 and manifest["num_heads"] == 12 and manifest["grid"] == [14, 14]
    assert len(manifest["stages"]) == 14
    shapes = {t["name"]: t["shape"] for t in manifest["tensors"]}
    assert shapes["embeddings.patch_conv"] == [1, 768, 14, 14]
    assert shapes["layer.11.attention.probs"] == [1, 12, 197, 197]
    assert shapes["layer.11.attention.query"] == [1, 12, 197, 64]
    assert shapes["layer.11.mlp.pre_act"] == [1, 197, 3072]
    assert manifest["fidelity"]["max_relative_diff"] <= TOLERANCE


@pytest.mark.parametrize("kind", ["vit", "dinov2"])
def test_fp16_weights_halve_the_parts_and_stay_within_tolerance(exported, tiny_checkpoints, kind, tmp_path):
    import onnx
    from onnx import numpy_helper
    from export.onnx_parts import FP16_MIN_SIZE
    from export.pipeline import FP16_TOLERANCE, export_model
    _, folders = exported
    full = folders[kind]
    half = export_model(str(tiny_checkpoints[kind]), tmp_path, name="half")  # float16 is the default
    manifest_full = json.loads((full / "manifest.json").read_text())
    manifest = json.loads((half / "manifest.json").read_text())
    assert manifest_full["weights"] == {"dtype": "float32"}
    storage = manifest["weights"]
    assert storage["dtype"] == "float16" and storage["compute"] == "float32" and storage["rounded_parameters"] > 0
    assert 0 < storage["max_relative_diff_vs_float32"] <= FP16_TOLERANCE
    assert manifest["fidelity"]["max_relative_diff"] <= TOLERANCE  # the parts equal the rounded model

    for part in manifest["stages"]:
        for initializer in onnx.load(str(half / part["file"])).graph.initializer:
            if numpy_helper.to_array(initializer).size >= FP16_MIN_SIZE:
                assert initializer.data_type == onnx.TensorProto.FLOAT16, (part["file"], initializer.name)
    weights = lambda m: sum(s["bytes"] for s in m["stages"])  # noqa: E731
    assert weights(manifest) < 0.75 * weights(manifest_full)

    for sample in REAL_IMAGES:
        pixel_values = preprocess(sample.load(), manifest["preprocessing"])
        reference = fidelity.run_parts(full, manifest_full["stages"], pixel_values)
        got = fidelity.run_parts(half, manifest["stages"], pixel_values)
        for name, value in reference.items():
            assert fidelity.relative_diff(value, got[name]) <= FP16_TOLERANCE, (sample.id, name)


def test_cli_rejects_an_unknown_weight_type(tiny_checkpoints, tmp_path):
    result = subprocess.run([sys.executable, "-m", "export", "--model", str(tiny_checkpoints["vit"]),
                             "--out", str(tmp_path), "--weights", "int4"], capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert not any(tmp_path.iterdir())
