"""The training (python -m training) continues from committed weights only when its held-out check stays honest."""
from __future__ import annotations

import hashlib
import json
from argparse import Namespace

import numpy as np
import pytest
import torch
from PIL import Image

from training import cache, data, loop
from training import model as trained_model

SETTINGS = {"per_class": 2600, "held_out": 0.02, "seed": 0, "first_block": 8}


def weights(tmp_path, digest=None, **settings):
    path = tmp_path / "earlier.safetensors"
    path.write_bytes(b"not read: the checks fail first")
    record = {"settings": {**SETTINGS, **settings},
              "sha256": digest or hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(record))
    return path


def args_of(**settings):
    return Namespace(**{**SETTINGS, "first_image": 0, **settings})


def draw_of(settings, after=None):
    settings = {**SETTINGS, "first_image": 0, **settings}
    return {key: settings[key] for key in ("per_class", "first_image", "held_out", "seed")} | {
        "after": after or data.head_images_per_class()}


def test_a_first_run_holds_out_images_after_the_heads():
    images = data.held_out_images(data.held_out_draw(args_of(), None))
    assert len(images) == round(2600 * len(data.LABELS) * SETTINGS["held_out"])
    assert images[:, 1].min() >= data.head_images_per_class() and images[:, 1].max() < 2600
    assert len(np.unique(images, axis=0)) == len(images)


@pytest.mark.parametrize("earlier", [{}, {"held_out": 0.05}, {"seed": 1}, {"first_image": 1000}])
def test_an_earlier_runs_held_out_images_are_kept(earlier):
    """The held-out settings of this run do not matter when it includes the earlier run's held-out images."""
    draw = data.held_out_draw(args_of(), {"settings": {**SETTINGS, **earlier}})
    assert draw == draw_of(earlier)


def test_the_held_out_images_are_kept_by_identity_over_other_first_images():
    """Run 13 held out images among 2600..5000; a run over all 5,000 a class holds out the same ones."""
    run13 = {**SETTINGS, "per_class": 5000, "first_image": 2600, "held_out": 0.04, "held_out_after": 2600,
             "seen_per_class": 5000}
    draw = data.held_out_draw(args_of(per_class=5000), {"settings": run13})
    assert draw == draw_of(run13, after=2600)
    chained = {"settings": {**SETTINGS, "per_class": 5000, "held_out_drawn": draw, "seen_per_class": 5000}}
    assert data.held_out_draw(args_of(per_class=5000, first_image=2000), chained) == draw
    images = data.held_out_images(draw)
    rows = data.row_of(images, 0)
    index = data.per_class_index(5000 * len(data.LABELS), 0)
    labels = np.tile(np.repeat(np.arange(len(data.LABELS)), data.CHUNK), 5000 // data.CHUNK)
    assert (index[rows] == images[:, 1]).all() and (labels[rows] == images[:, 0]).all()


def test_held_out_rows_are_those_drawn_in_the_runs_own_cache():
    """The draw gives the rows the check used before draws were kept by image (run 13's own layout)."""
    rows = (5000 - 2600) * len(data.LABELS)
    unseen = np.flatnonzero(data.per_class_index(rows, 2600) >= 2600)
    before = np.random.default_rng(0).permutation(unseen)[: round(rows * 0.04)]
    draw = {"per_class": 5000, "first_image": 2600, "held_out": 0.04, "seed": 0, "after": 2600}
    assert (data.row_of(data.held_out_images(draw), 2600) == before).all()


def test_new_images_are_held_out_after_all_an_earlier_run_saw():
    draw = data.held_out_draw(args_of(per_class=5000, first_image=2600), {"settings": SETTINGS})
    assert draw == draw_of({"per_class": 5000, "first_image": 2600}, after=2600)


@pytest.mark.parametrize("settings", [{"per_class": 4000}, {"per_class": 5000, "first_image": 4000}])
def test_a_run_without_the_held_out_images_and_without_unseen_ones_is_refused(tmp_path, settings):
    earlier = {"per_class": 5000, "first_image": 2600, "held_out": 0.04, "seen_per_class": 5000}
    args = Namespace(**{**SETTINGS, "first_image": 0, **settings}, start_from=weights(tmp_path, **earlier))
    with pytest.raises(ValueError, match=r"keep its held-out images use --first-image .* raise --per-class above 5000"):
        loop.start_from(None, args)


def test_a_run_with_no_image_after_the_heads_is_refused():
    with pytest.raises(ValueError, match="--per-class must exceed"):
        data.held_out_draw(args_of(per_class=data.head_images_per_class()), None)


def test_rows_know_their_image_index():
    index = data.per_class_index(4 * data.CHUNK * len(data.LABELS), first_image=2600)
    assert index.min() == 2600 and index.max() == 2600 + 4 * data.CHUNK - 1


def test_a_higher_first_block_is_refused(tmp_path):
    args = Namespace(**{**SETTINGS, "first_block": 9}, first_image=0, start_from=weights(tmp_path))
    with pytest.raises(ValueError, match="--first-block must be at most that"):
        loop.start_from(None, args)


def test_a_damaged_file_is_refused(tmp_path):
    args = Namespace(**SETTINGS, first_image=0, start_from=weights(tmp_path, digest="0" * 64))
    with pytest.raises(ValueError, match=r"is not the file its \.json describes"):
        loop.start_from(None, args)


def test_mirror_images_are_cached_apart_and_mirrored(tmp_path, monkeypatch):
    """--flip caches the states of each image mirrored left to right, next to the originals, never mixed."""
    rng = np.random.default_rng(0)
    images = [(Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)), label)
              for label in range(len(data.LABELS)) for _ in range(data.CHUNK)]
    monkeypatch.setattr(data.cifar, "read_archive", lambda path, per_class: images)
    # (images, 2, 224): two rows of each image's red channel stand for its hidden states
    monkeypatch.setattr(trained_model, "embed", lambda model, pixels, first: torch.from_numpy(pixels[:, 0, :2]))
    plain, labels = cache.cache_states(None, tmp_path, data.CHUNK, 8, tmp_path)
    mirror, mirror_labels = cache.cache_states(None, tmp_path, data.CHUNK, 8, tmp_path, flip=True)
    assert (labels == mirror_labels).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k08", "k08-flip"]
    torch.testing.assert_close(mirror.float(), plain.float().flip(-1), atol=2e-3, rtol=0)
    (tmp_path / "k06").mkdir()
    (tmp_path / "k06" / "00000-00020.npy").touch()
    assert cache.lower_cache(tmp_path, 8, True, "00000-00020.npy") is None
    assert cache.lower_cache(tmp_path, 8, False, "00000-00020.npy") == (6, tmp_path / "k06" / "00000-00020.npy")


def test_reference_maps_are_the_teachers_cached_once_per_chunk(tmp_path):
    """The map loss's references are computed once per chunk, by the blocks before fine-tuning."""
    rows = data.CHUNK * len(data.LABELS)
    states = torch.randn(2 * rows, 5, 8).half()  # two chunks of (tokens, width) states
    teacher = [torch.nn.Linear(8, 8)]
    maps = cache.cache_maps(teacher, states, 2 * data.CHUNK, 8, tmp_path)
    with torch.inference_mode():
        expected = trained_model.cls_similarity(teacher[0](states.float()))
    torch.testing.assert_close(maps, expected)
    assert sorted(p.name for p in (tmp_path / "k08" / "maps").iterdir()) == ["00000-00020.npy", "00020-00040.npy"]
    again = cache.cache_maps(None, states, 2 * data.CHUNK, 8, tmp_path)  # no teacher needed: read back
    torch.testing.assert_close(again, maps)
    later = cache.cache_maps(None, states[rows:], 2 * data.CHUNK, 8, tmp_path, first_image=data.CHUNK)
    torch.testing.assert_close(later, maps[rows:])
    lower = cache.cache_maps(None, states, 2 * data.CHUNK, 6, tmp_path)  # another block: copied
    torch.testing.assert_close(lower, maps)
    assert sorted(p.name for p in (tmp_path / "k06" / "maps").iterdir()) == ["00000-00020.npy", "00020-00040.npy"]
    with pytest.raises(TypeError):  # no teacher: mirror images have maps of their own, computed by the teacher
        cache.cache_maps(None, states, 2 * data.CHUNK, 6, tmp_path, flip=True)


def test_augment_crops_the_padded_image_at_random_and_mirrors_half_the_time():
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    padded = np.pad(image, ((data.PAD,) * 2, (data.PAD,) * 2, (0, 0)), mode="reflect")
    windows = {(top, left, mirrored): window[:, ::-1] if mirrored else window
               for top in range(2 * data.PAD + 1) for left in range(2 * data.PAD + 1)
               for window in [padded[top:top + 32, left:left + 32]] for mirrored in (False, True)}
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(40):
        view = np.asarray(data.augment(Image.fromarray(image), rng))
        seen.add(next(key for key, window in windows.items() if (window == view).all()))
    assert {mirrored for _, _, mirrored in seen} == {False, True} and len(seen) > 20
    again = [np.asarray(data.augment(Image.fromarray(image), np.random.default_rng(5))) for _ in range(2)]
    assert (again[0] == again[1]).all()


def test_images_are_put_in_the_caches_row_order():
    by_class = [[(label, index) for index in range(60)] for label in range(len(data.LABELS))]
    images = data.in_cache_order(by_class, 20, 60)
    rows = len(images)
    assert rows == 40 * len(data.LABELS)
    assert images == list(zip(data.per_class_label(rows), data.per_class_index(rows, 20)))


def test_augmented_views_are_new_at_each_step_and_the_same_after_a_resume():
    from types import SimpleNamespace
    # the red channel's first two rows stand for an image's hidden states
    model = SimpleNamespace(dinov2=SimpleNamespace(embeddings=lambda pixels: pixels[:, 0, :2],
                                                   encoder=SimpleNamespace(layer=[])))
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(6)]
    views = cache.AugmentedViews(model, images, 8, bf16=False, seed=0)
    rows = np.array([4, 1, 2])
    first, cached = views.batch(rows, 3)
    assert cached is None and not first.is_inference() and first.shape == (3, 2, 224)
    torch.testing.assert_close(views.batch(rows, 3)[0], first)
    assert not torch.equal(views.batch(rows, 4)[0], first)
    plain = torch.from_numpy(np.concatenate([data.preprocess(images[r], data.RECIPE) for r in rows]))
    torch.testing.assert_close(views.unaugmented(rows), plain[:, 0, :2])
    assert views.tokens == 2 and len(views) == 6
