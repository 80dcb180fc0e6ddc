"""The knowledge background graph is read from the installed transformers source, and matches it exactly."""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json

import pytest

from export.knowledge import build_graph

VIT, DEIT, DEIT_TEACHER, DINOV2 = ("ViTForImageClassification", "DeiTForImageClassification",
                                   "DeiTForImageClassificationWithTeacher", "Dinov2ForImageClassification")
ARCHITECTURES = (VIT, DEIT, DEIT_TEACHER, DINOV2)

BLOCK = ("Model", "Embeddings", "PatchEmbeddings", "Encoder", "Layer", "Attention", "SelfAttention", "SelfOutput")
EXPECTED_CLASSES = {
    VIT: {VIT, *(f"ViT{p}" for p in (*BLOCK, "Intermediate", "Output"))},
    DEIT: {DEIT, *(f"DeiT{p}" for p in (*BLOCK, "Intermediate", "Output"))},
    DEIT_TEACHER: {DEIT_TEACHER, *(f"DeiT{p}" for p in (*BLOCK, "Intermediate", "Output"))},
    DINOV2: {DINOV2, *(f"Dinov2{p}" for p in (*BLOCK, "LayerScale", "MLP"))},
}
COMMON_CONCEPTS = {"patch", "token", "CLS token", "position embedding", "attention head", "residual connection",
                   "LayerNorm", "GELU", "softmax"}


@pytest.fixture(scope="module")
def graphs() -> dict[str, dict]:
    return {a: build_graph(a) for a in ARCHITECTURES}


def ids(graph: dict, kind: str) -> set[str]:
    return {n["id"] for n in graph["nodes"] if n["kind"] == kind}


def edge(graph: dict, source: str, target: str, kind: str) -> list[dict]:
    return [e for e in graph["edges"] if (e["source"], e["target"], e["kind"]) == (source, target, kind)]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_reachable_classes_are_nodes(graphs, architecture):
    graph = graphs[architecture]
    assert EXPECTED_CLASSES[architecture] <= ids(graph, "class")
    assert graph["architecture"] == architecture
    # only what the classifier reaches: sibling heads of the same module stay out
    assert not {"ViTForMaskedImageModeling", "DeiTForMaskedImageModeling", "Dinov2Backbone"} & ids(graph, "class")


def test_composition_inheritance_and_calls(graphs):
    vit, dinov2, teacher = graphs[VIT], graphs[DINOV2], graphs[DEIT_TEACHER]
    [backbone] = edge(vit, VIT, "ViTModel", "composes")
    assert (backbone["attribute"], backbone["many"]) == ("vit", False)
    [layers] = edge(vit, "ViTEncoder", "ViTLayer", "composes")
    assert (layers["attribute"], layers["many"]) == ("layer", True)
    assert {e["attribute"] for e in edge(vit, "ViTSelfAttention", "nn.Linear", "composes")} == {"query", "key", "value"}
    assert edge(vit, "ViTModel", "ViTPreTrainedModel", "inherits")
    docs = {n["id"]: n["docstring"] for n in vit["nodes"] if n["kind"] != "concept"}
    assert docs["ViTSelfOutput"].startswith("The residual connection is defined in ViTLayer")
    assert docs["ViTSelfAttention"] == ""
    # referenced through the `attention_interface` variable, then called
    assert edge(vit, "ViTSelfAttention", "eager_attention_forward", "calls")

    assert edge(dinov2, "Dinov2Encoder", "Dinov2Layer", "composes")[0]["many"]
    assert {e["attribute"] for e in edge(dinov2, "Dinov2Layer", "Dinov2LayerScale", "composes")} == \
        {"layer_scale1", "layer_scale2"}
    assert edge(dinov2, "Dinov2DropPath", "drop_path", "calls")
    assert {e["attribute"] for e in edge(teacher, DEIT_TEACHER, "nn.Linear", "composes")} == \
        {"cls_classifier", "distillation_classifier"}


@pytest.mark.parametrize("source, target, architecture", [
    ("LayerNorm", "ViTLayer", VIT),
    ("softmax", "eager_attention_forward", VIT),
    ("CLS token", "ViTEmbeddings", VIT),
    ("patch", "ViTPatchEmbeddings", VIT),
    ("token", "ViTPatchEmbeddings", VIT),
    ("position embedding", "ViTEmbeddings", VIT),
    ("attention head", "ViTSelfAttention", VIT),
    ("residual connection", "ViTLayer", VIT),
    ("residual connection", "ViTOutput", VIT),
    ("GELU", "ViTIntermediate", VIT),
    ("layer scale", "Dinov2LayerScale", DINOV2),
    ("GELU", "Dinov2MLP", DINOV2),
    ("distillation token", "DeiTEmbeddings", DEIT),
])
def test_concepts_link_to_the_code_implementing_them(graphs, source, target, architecture):
    assert edge(graphs[architecture], source, target, "implements")


def test_concepts_present_only_where_the_code_has_them(graphs):
    assert ids(graphs[VIT], "concept") == COMMON_CONCEPTS
    assert ids(graphs[DINOV2], "concept") == COMMON_CONCEPTS | {"layer scale"}
    assert ids(graphs[DEIT], "concept") == ids(graphs[DEIT_TEACHER], "concept") == COMMON_CONCEPTS | {
        "distillation token"}
    # the pooler's activation is config.pooler_act (tanh), not the MLP's GELU
    assert not edge(graphs[VIT], "GELU", "ViTPooler", "implements")
    for node in (n for g in graphs.values() for n in g["nodes"] if n["kind"] == "concept"):
        assert node["title"] and node["explanation"] and node["formula"]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_sources_are_the_installed_code(graphs, architecture):
    code = [n for n in graphs[architecture]["nodes"] if n["kind"] in ("class", "function")]
    module = importlib.import_module(code[0]["module"])
    for node in code:
        obj = getattr(module, node["id"])
        assert node["source"] == inspect.getsource(obj)
        assert node["line"] == inspect.getsourcelines(obj)[1]
        assert node["sha256"] == hashlib.sha256(node["source"].encode()).hexdigest()
        assert inspect.getsourcefile(module).replace("\\", "/").endswith("/transformers/" + node["file"])


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_sources_come_highlighted_by_pygments(graphs, architecture):
    """The viewer only wraps the tokens in spans: joined they are the source, each of a kind the CSS colours."""
    code = [n for n in graphs[architecture]["nodes"] if n["kind"] in ("class", "function")]
    for node in code:
        assert "".join(text for _, text in node["tokens"]) == node["source"], node["id"]
        assert {kind for kind, _ in node["tokens"]} <= {"", "keyword", "string", "comment", "number", "decorator",
                                                         "name", "self"}
        marked = {(kind, text) for kind, text in node["tokens"]}
        assert ("keyword", "class" if node["kind"] == "class" else "def") in marked
        assert ("name", node["id"]) in marked
    tokens = [tuple(t) for n in code for t in n["tokens"]]
    assert ("self", "self") in tokens and ("keyword", "return") in tokens
    assert any(kind == "string" and text.startswith('"""') for kind, text in tokens)  # docstrings
    assert all(text.strip() for kind, text in tokens if kind)  # a coloured run is never bare whitespace


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_graph_is_consistent(graphs, architecture):
    graph = graphs[architecture]
    node_ids = [n["id"] for n in graph["nodes"]]
    assert len(node_ids) == len(set(node_ids))
    keys = [tuple(e.values()) for e in graph["edges"]]
    assert len(keys) == len(set(keys))
    assert all(e["source"] in node_ids and e["target"] in node_ids for e in graph["edges"])
    assert {e["kind"] for e in graph["edges"]} == {"composes", "calls", "inherits", "implements"}


@pytest.mark.parametrize("architecture", [VIT, DINOV2])
def test_output_is_json_and_deterministic(graphs, architecture):
    assert json.dumps(build_graph(architecture)) == json.dumps(graphs[architecture])


@pytest.mark.parametrize("architecture", ["ViTForMaskedImageModeling", "BeitForImageClassification", "vit"])
def test_unsupported_architectures_are_rejected(architecture):
    with pytest.raises(ValueError):
        build_graph(architecture)
