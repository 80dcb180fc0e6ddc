"""A model folder's manifest.json, and the index.json listing the folders, read into typed fields.

The export step writes them (export/pipeline.py) and reads each manifest back through this module
before the folder goes live (export/shared.py loads it by path), so what the page reads is what was
written. Standard library only: the page ships it (py/files.json). The provenance the page does not
show (source, fidelity, weights, exported_with) stays in the JSON, for people and the tests.
"""
from dataclasses import MISSING, dataclass, field, fields

FORMAT = 3  # of the folders this page reads; the export step writes it into every manifest


class ManifestError(ValueError):
    """A manifest or index without a field the page needs; the message names it."""


def _read(cls, data, where):
    """An instance of dataclass `cls` from the JSON object `data`: its fields, of which those with a
    default may be absent; keys it does not declare are left out."""
    values = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = data[f.name]
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ManifestError(f"{where} has no {f.name!r}")
    return cls(**values)


def _read_all(cls, items, where):
    return [_read(cls, item, where) for item in items]


@dataclass(frozen=True)
class Tensor:
    """An exposed tensor: its name (tensor_names), its shape (batch first), and what it holds."""
    name: str
    shape: list
    stage: str
    meaning: str


@dataclass(frozen=True)
class Stage:
    """One ONNX part of the chain: it reads one tensor and returns several, the last feeding the next part.
    `first_pass`: the outputs the page keeps of it when it runs a new image (the export decides).
    `head_mask`: a block part's second input, (1, heads, 1, 1), fed on every run (ones: every head)."""
    name: str
    file: str
    input: str
    outputs: list
    first_pass: list
    bytes: int
    head_mask: str = ""


@dataclass(frozen=True)
class Sample:
    id: str
    file: str
    title: str
    source: str
    licence: str


@dataclass(frozen=True)
class Parameter:
    """A learned parameter, `offset` bytes into parameters.bin (float32)."""
    name: str
    shape: list
    offset: int


@dataclass(frozen=True)
class Parameters:
    """parameters.bin: the learned parameters the operation views draw."""
    file: str
    entries: list  # of Parameter

    def entry(self, name):
        return next((p for p in self.entries if p.name == name), None)


@dataclass(frozen=True)
class Analysis:
    """analysis.onnx: the Interpretation view's maps, computed from exposed tensors once per image."""
    file: str
    inputs: list
    outputs: dict  # name -> shape


@dataclass(frozen=True)
class Relevance:
    """relevance.onnx: the gradients of a class's logit with respect to every block's attention, and
    Chefer et al.'s relevance made from them, for the embeddings' output and a target over the logits."""
    file: str
    inputs: list
    outputs: dict  # name -> shape
    method: str


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    architecture: str
    family: str
    image_size: list  # [height, width] of the model's input
    patch_size: int
    grid: list  # [rows, columns] of patches
    num_patches: int
    special_tokens: list  # their labels (CLS, DIST), in front of the patch tokens
    tokens: int
    hidden_size: int
    num_heads: int
    head_size: int
    mlp_size: int
    num_layers: int
    activation: str
    layer_norm_eps: float
    layer_scale: bool
    labels: list
    preprocessing: dict  # the recipe (geometry.py, preprocess.onnx's inputs) and its graph's file
    stages: list  # of Stage, in the order the chain runs them
    tensors: list  # of Tensor
    samples: list  # of Sample
    knowledge: str  # the knowledge graph's file
    parameters: Parameters | None = None  # None in folders exported before the operation views
    analysis: Analysis | None = None  # None in folders exported before the Interpretation view
    relevance: Relevance | None = None  # None in folders exported before class relevance
    files: dict = field(default_factory=dict)  # file -> {bytes, sha256}: the page caches files by digest
    head_reads_patches: bool = False  # the classifier reads the patch tokens too (DINOv2's mean), not CLS alone

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict):
            raise ManifestError("manifest.json is not a JSON object")
        if data.get("format", FORMAT) != FORMAT:
            raise ManifestError(f"manifest.json is of format {data['format']!r} and this page reads format {FORMAT}: "
                                "export the model again with this version of python -m export")
        data = dict(data)
        for key, kind in (("stages", Stage), ("tensors", Tensor), ("samples", Sample)):
            if key in data:
                data[key] = _read_all(kind, data[key], f"a {key[:-1]} of manifest.json")
        if data.get("parameters"):
            entries = _read_all(Parameter, data["parameters"].get("entries", []), "a parameter of manifest.json")
            data["parameters"] = _read(Parameters, {**data["parameters"], "entries": entries},
                                       "manifest.json's parameters")
        if data.get("analysis"):
            data["analysis"] = _read(Analysis, data["analysis"], "manifest.json's analysis")
        if data.get("relevance"):
            data["relevance"] = _read(Relevance, data["relevance"], "manifest.json's relevance")
        return _read(cls, data, "manifest.json")

    def tensor(self, name):
        return next(t for t in self.tensors if t.name == name)

    def sample(self, sample_id):
        return next(s for s in self.samples if s.id == sample_id)


@dataclass(frozen=True)
class IndexEntry:
    name: str
    title: str
    manifest: str  # its manifest.json, relative to the index


@dataclass(frozen=True)
class ModelIndex:
    """index.json: every model folder the page can show, and the one it shows first."""
    default: str
    models: list  # of IndexEntry

    @classmethod
    def from_json(cls, data):
        models = _read_all(IndexEntry, data.get("models", []), "a model of index.json")
        return _read(cls, {**data, "models": models}, "index.json")

    def entry(self, name):
        return next((m for m in self.models if m.name == name), None)
