"""export.finetune continues from committed weights only when its held-out check stays honest."""
from __future__ import annotations

import hashlib
import json
from argparse import Namespace

import pytest

from export import finetune

SETTINGS = {"per_class": 2600, "held_out": 0.02, "seed": 0, "first_block": 8}


def weights(tmp_path, digest=None, **settings):
    path = tmp_path / "earlier.safetensors"
    path.write_bytes(b"not read: the checks fail first")
    record = {"settings": {**SETTINGS, **settings},
              "sha256": digest or hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(record))
    return path


@pytest.mark.parametrize("key, value", [("per_class", 3000), ("held_out", 0.05), ("seed", 1), ("first_image", 1000)])
def test_other_held_out_images_are_refused(tmp_path, key, value):
    args = Namespace(**SETTINGS, first_image=0, start_from=weights(tmp_path, **{key: value}))
    with pytest.raises(ValueError, match=f"--{key.replace('_', '-')} {value}.*raise --per-class above"):
        finetune.start_from(None, args)


def test_the_same_held_out_images_are_kept():
    args = Namespace(**SETTINGS, first_image=0)
    assert finetune.held_out_after(args, {"settings": SETTINGS}) == finetune.head_images_per_class()


def test_new_images_are_held_out_after_all_an_earlier_run_saw():
    args = Namespace(**{**SETTINGS, "per_class": 5000}, first_image=2600)
    assert finetune.held_out_after(args, {"settings": SETTINGS}) == 2600
    chained = {"settings": {**SETTINGS, "per_class": 5000, "first_image": 2600, "seen_per_class": 5000}}
    with pytest.raises(ValueError, match="raise --per-class above 5000"):
        finetune.held_out_after(Namespace(**{**SETTINGS, "per_class": 4000}, first_image=0), chained)


def test_rows_know_their_image_index():
    index = finetune.per_class_index(4 * finetune.CHUNK * len(finetune.LABELS), first_image=2600)
    assert index.min() == 2600 and index.max() == 2600 + 4 * finetune.CHUNK - 1


def test_a_higher_first_block_is_refused(tmp_path):
    args = Namespace(**{**SETTINGS, "first_block": 9}, first_image=0, start_from=weights(tmp_path))
    with pytest.raises(ValueError, match="--first-block must be at most that"):
        finetune.start_from(None, args)


def test_a_damaged_file_is_refused(tmp_path):
    args = Namespace(**SETTINGS, first_image=0, start_from=weights(tmp_path, digest="0" * 64))
    with pytest.raises(ValueError, match="is not the file its .json describes"):
        finetune.start_from(None, args)
