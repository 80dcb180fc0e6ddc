"""What-if edits (issue #42): the rules of web/py/edits.py, and edited runs of the exported parts
against the Hugging Face model given the same edit, for every family."""
from __future__ import annotations

import json

import numpy as np
import pytest

from export import analysis, fidelity, relevance
from export.pipeline import load
from export.preprocess import preprocess
from export.samples import SAMPLES
from export.shared import edits, manifest as page_manifest, names

from .conftest import TINY
from .test_analysis import numpy_heads

TOLERANCE = 1e-4  # of each tensor's range, float32


def model_of(folders, kind):
    folder = folders[kind]
    data = json.loads((folder / "manifest.json").read_text())
    return folder, data, page_manifest.Manifest.from_json(data)


# The rules

def test_patch_lists_parse_and_print_compactly():
    assert edits.parse_patches("12-15,40, 3", 64) == (3, 12, 13, 14, 15, 40)
    assert edits.parse_patches("", 64) == ()
    assert edits.patch_list((3, 12, 13, 14, 15, 40)) == "3,12-15,40"
    assert edits.parse_patches(edits.patch_list(range(0, 64, 3)), 64) == tuple(range(0, 64, 3))


@pytest.mark.parametrize("text, message", [
    ("12,x", "write patch numbers like 12,13,40 or a range like 12-15"),
    ("64", "there is no patch 64: patches are numbered 0 to 63"),
    ("9-3", "a range goes from the lower number to the higher"),
    ("-3", "write patch numbers"),
])
def test_bad_patch_lists_are_refused_with_a_sentence(text, message):
    with pytest.raises(edits.EditError, match=message):
        edits.parse_patches(text, 64)


def test_knockouts_parse_and_refuse_heads_that_do_not_exist():
    assert edits.parse_knockout("5.1,3.2,3.2", 12, 6) == ((3, 2), (5, 1))
    assert edits.knockout_list(((3, 2), (5, 1))) == "3.2,5.1"
    with pytest.raises(edits.EditError, match=r"there is no head 13\.1: blocks are 1 to 12 and heads 1 to 6"):
        edits.parse_knockout("13.1", 12, 6)
    with pytest.raises(edits.EditError, match=r"there is no head 2\.0"):
        edits.parse_knockout("2.0", 12, 6)
    with pytest.raises(edits.EditError, match=r"write BLOCK\.HEAD pairs like 3\.2,5\.1"):
        edits.parse_knockout("3", 12, 6)


def test_an_edit_gives_the_kept_tokens_and_the_head_mask():
    edit = edits.Edit(removed=(0, 2), knocked=((2, 1),))
    assert edit.kept_tokens(special=2, num_patches=4) == [0, 1, 3, 5]
    assert edit.head_mask(layers=2, heads=3) == [[1, 1, 1], [0, 1, 1]]
    assert edit.describe() == "2 patches removed, 1 head knocked out"
    assert not edits.Edit() and edits.Edit().describe() == "no edit"


def test_removing_every_patch_is_refused_only_where_the_head_reads_the_patches(exported):
    _, folders = exported
    for kind, refused in (("dinov2", True), ("vit", False), ("deit_teacher", False)):
        m = model_of(folders, kind)[2]
        everything = f"0-{m.num_patches - 1}"
        if refused:
            with pytest.raises(edits.EditError, match="removing every patch leaves nothing to classify"):
                edits.make(m, removed=everything)
        else:
            assert len(edits.make(m, removed=everything).kept_tokens(len(m.special_tokens), m.num_patches)) == len(
                m.special_tokens)
    m = model_of(folders, "vit")[2]
    with pytest.raises(edits.EditError, match="patch 3 cannot be both removed and replaced"):
        edits.make(m, removed="1-3", replaced="3")
    with pytest.raises(edits.EditError, match="fill 'paint': use mean, blur or sample:<id>"):
        edits.make(m, replaced="3", fill="paint", sample_ids=("cat",))


def test_curve_steps_orders_and_areas():
    assert edits.removed_counts(256, may_remove_all=True) == list(range(0, 257, 16))
    assert edits.removed_counts(256, may_remove_all=False)[-1] == 240
    assert edits.removed_counts(16, may_remove_all=True) == list(range(17))
    order = edits.order_of([0.1, 0.5, 0.5, 0.2])
    assert order == [1, 2, 3, 0]
    assert edits.curve_edit("deletion", order, 2).removed == (1, 2)
    assert edits.curve_edit("insertion", order, 1).removed == (0,)  # the least important is the last put back
    assert edits.random_order(16) == edits.random_order(16) != list(range(16))
    assert sorted(edits.random_order(16)) == list(range(16))
    flat = [{"removed": 0.0, "probability": 1.0}, {"removed": 0.5, "probability": 0.0}, {"removed": 1.0, "probability": 0.0}]
    assert edits.area(flat) == pytest.approx(0.25)
    assert edits.area(flat[:2]) == pytest.approx(0.5)


# Edited runs against Hugging Face

def _edit(m):
    """Every third patch removed; head 1 of block 1 and the last head of the last block knocked out."""
    return edits.Edit(removed=tuple(range(0, m.num_patches, 3)), knocked=((1, 1), (m.num_layers, m.num_heads)))


@pytest.mark.parametrize("kind", list(TINY))
def test_an_edited_run_equals_hugging_face_given_the_same_edit(exported, tiny_checkpoints, kind):
    folder, data, m = model_of(exported[1], kind)
    model, recipe, family = load(str(tiny_checkpoints[kind]))
    pixels = preprocess(SAMPLES[0].load(), recipe)
    chain = fidelity.Chain(folder, data["stages"])
    for edit in (_edit(m), edits.Edit(knocked=((1, 2),)), edits.Edit(removed=(1, 5))):
        kept = edit.kept_tokens(len(m.special_tokens), m.num_patches)
        mask = np.array(edit.head_mask(m.num_layers, m.num_heads), np.float32)
        got = chain.run(pixels, kept, mask)
        want = fidelity.run_torch_edited(model, family, pixels, kept, mask)
        diffs = fidelity.compare(want, got)
        assert max(diffs.values()) < TOLERANCE, (edit, max(diffs, key=diffs.get))
        assert got[names.in_block(0, names.PROBS)].shape[-1] == len(kept)
    knocked = chain.run(pixels, head_mask=np.array(edits.Edit(knocked=((1, 2),)).head_mask(m.num_layers, m.num_heads),
                                                   np.float32))
    assert not knocked[names.in_block(0, names.PROBS)][0, 1].any()  # the knocked-out head attends nowhere


@pytest.mark.parametrize("kind", list(TINY))
def test_unedited_runs_are_unchanged_value_for_value(exported, kind):
    folder, data, m = model_of(exported[1], kind)
    pixels = np.random.default_rng(0).standard_normal((1, 3, *m.image_size)).astype(np.float32)
    chain = fidelity.Chain(folder, data["stages"])
    plain = chain.run(pixels)
    fed = chain.run(pixels, list(range(m.tokens)), np.ones((m.num_layers, m.num_heads), np.float32))
    assert plain.keys() == fed.keys()
    for name in plain:
        assert np.array_equal(plain[name], fed[name]), name


@pytest.mark.parametrize("kind", ["vit", "deit_teacher", "dinov2"])
def test_analysis_and_relevance_read_an_edited_run(exported, tiny_checkpoints, kind):
    folder, data, m = model_of(exported[1], kind)
    model, recipe, family = load(str(tiny_checkpoints[kind]))
    edit = _edit(m)
    kept = edit.kept_tokens(len(m.special_tokens), m.num_patches)
    mask = np.array(edit.head_mask(m.num_layers, m.num_heads), np.float32)
    got = fidelity.Chain(folder, data["stages"]).run(preprocess(SAMPLES[0].load(), recipe), kept, mask)
    read = [p for p in range(m.num_patches) if p not in edit.removed]
    outputs = analysis.run(folder / "analysis.onnx", got, read)
    assert analysis.lens_error(outputs, got[names.LOGITS]) < TOLERANCE  # CLS's lens at the end is the prediction
    probs = np.stack([got[names.in_block(i, names.PROBS)][0] for i in range(m.num_layers)])
    positions = np.array([divmod(p, m.grid[1]) for p in read], np.float64)  # the kept patches' own places
    for measure, want in zip(names.HEAD_MEASURES, numpy_heads(probs, positions, len(m.special_tokens))):
        np.testing.assert_allclose(outputs[names.analysis(f"heads.{measure}")], want, atol=2e-5, err_msg=measure)
    assert outputs[names.analysis("heads.entropy")][0, 0] == 0  # head 1 of block 1 is knocked out: it attends nowhere
    assert outputs[names.analysis("similarity")].shape == (m.num_layers + 1, len(kept), len(kept))
    vector = relevance.target(len(m.labels), 0, 1)
    have = relevance.run(folder / "relevance.onnx", got[names.EMBEDDINGS_OUTPUT], vector, mask)
    want = relevance.autograd_reference(model, family, tuple(m.image_size), got[names.EMBEDDINGS_OUTPUT], vector, mask)
    for name, value in want.items():
        assert fidelity.relative_diff(value, have[name]) < TOLERANCE, name
    assert data["fidelity"]["edits"]["max_relative_diff"] < TOLERANCE


def test_spread_puts_removed_tokens_back_as_zeros():
    kept, total = [0, 2, 3], 5
    probs = np.arange(1 * 2 * 3 * 3, dtype=np.float32).reshape(1, 2, 3, 3) + 1
    full = fidelity.spread(names.in_block(0, names.PROBS), probs, kept, total)
    assert full.shape == (1, 2, 5, 5)
    assert np.array_equal(full[:, :, kept][:, :, :, kept], probs)
    assert not full[:, :, [1, 4]].any() and not full[:, :, :, [1, 4]].any()
    query = np.ones((1, 2, 3, 4), np.float32)
    assert fidelity.spread(names.in_block(0, names.QUERY), query, kept, total).shape == (1, 2, 5, 4)
    assert fidelity.spread(names.LOGITS, np.ones((1, 3)), kept, total).shape == (1, 3)
    assert fidelity.spread(names.RELEVANCE, np.ones(3), kept, total).tolist() == [1, 0, 1, 1, 0]
