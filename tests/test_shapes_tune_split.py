"""Tests of the shapes dataset's ``tune`` split: drawn like ``val`` from a
seed stream of its own, disjoint from ``train`` and ``val``, deterministic,
and a dataset written before it existed is regenerated."""
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from conftest import tree_bytes

import mmkd_det.datasets.shapes as shapes
from mmkd_det.datasets.generation import SPLIT_IDS as _SPLIT_IDS
from mmkd_det.datasets.shapes.render import render_image

SMALL = dict(seed=0, num_train=6, num_val=5, num_tune=7, size=(64, 80))


def _coco(root, split):
    with open(osp.join(root, 'annotations', f'instances_{split}.json')) as f:
        return json.load(f)


def _boxes_by_image(coco):
    boxes = {im['id']: [] for im in coco['images']}
    for a in coco['annotations']:
        boxes[a['image_id']].append((a['category_id'], tuple(a['bbox'])))
    return boxes


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('shapes_tune'))
    return out, shapes.generate_shapes_dataset(out, **SMALL)


def test_tune_layout_and_meta(small):
    out, summary = small
    assert set(_SPLIT_IDS) == {'train', 'val', 'tune'}
    assert len(set(_SPLIT_IDS.values())) == 3
    assert summary['tune']['num_images'] == 7
    assert sorted(os.listdir(osp.join(
        out, 'tune'))) == [f'{i:06d}.jpg' for i in range(7)]
    coco = _coco(out, 'tune')
    assert len(coco['images']) == 7
    assert coco['info']['split'] == 'tune'
    with open(osp.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['args']['num_tune'] == 7
    assert meta['counts']['tune']['num_images'] == 7
    assert meta['counts']['tune']['num_annotations'] == len(
        coco['annotations'])
    assert shapes.SHAPES_DEFAULTS.num_tune == shapes.SHAPES_DEFAULTS.num_val


def test_splits_disjoint(small):
    """No image repeats across splits, and image ``i`` of tune is not image
    ``i`` of val: neither its pixels nor its objects."""
    out, _ = small
    pixels = {}
    for split in ('train', 'val', 'tune'):
        for name in sorted(os.listdir(osp.join(out, split))):
            img = cv2.imread(osp.join(out, split, name))
            pixels[(split, name)] = hashlib.sha256(img.tobytes()).hexdigest()
    assert len(set(pixels.values())) == len(pixels)
    val = _boxes_by_image(_coco(out, 'val'))
    tune = _boxes_by_image(_coco(out, 'tune'))
    for image_id in val:  # ids 1..5 exist in both
        a = cv2.imread(osp.join(out, 'val', f'{image_id - 1:06d}.jpg'))
        b = cv2.imread(osp.join(out, 'tune', f'{image_id - 1:06d}.jpg'))
        assert not np.array_equal(a, b)
        assert val[image_id] != tune[image_id]


def test_tune_drawn_with_val_parameters(small):
    """Each tune image is the renderer's output for the seed
    ``(seed, 2, i)`` with the very parameters that val uses (one set of
    arguments in meta.json), and val keeps its stream ``(seed, 1, i)``."""
    out, _ = small
    with open(osp.join(out, 'meta.json')) as f:
        params = json.load(f)['args']
    h, w = params['size']
    for split in ('val', 'tune'):
        boxes = _boxes_by_image(_coco(out, split))
        for index in range(params[f'num_{split}']):
            rng = np.random.default_rng(
                [params['seed'], _SPLIT_IDS[split], index])
            _, anns = render_image(rng, h, w, params)
            expected = [(a['category_id'], tuple(a['bbox'])) for a in anns]
            assert boxes[index + 1] == expected, (split, index)


def test_train_val_unchanged_by_tune_split(tmp_path):
    """The annotations of train and val are those the generator wrote
    before the tune split existed (SHA-256 of a 96x96 dataset with 20 train
    and 15 val images, generated with commit 0ac1283), whatever num_tune.

    A regression pin, not a correctness check: the digests are the
    generator's own output. It guards against a change to the generator
    (renderer, seed streams, split ids, JSON writer, the tune split) that
    alters train or val for the same arguments while ``SHAPES_VERSION``
    stays the same: such a dataset would not be regenerated, and the
    committed results would no longer match the data they were measured on.

    To update after an intended change: bump ``SHAPES_VERSION``
    (``mmkd_det/datasets/shapes/writer.py``), regenerate with the arguments
    below, put ``sha256sum annotations/instances_{train,val}.json`` here and
    name the commit in the first paragraph.
    """
    pinned = {
        'train':
        '9b5382a7eafd1fde46b40c4e7a6da5c3188929a5913b7df0c8884cd52fcc8dad',
        'val':
        '63addef3ddca58ebac68939156f135a4b5ead69b2ba731dc04767b0d72b86ab2',
    }
    for num_tune in (1, 15):
        out = str(tmp_path / f'tune{num_tune}')
        shapes.generate_shapes_dataset(
            out, num_train=20, num_val=15, num_tune=num_tune, size=(96, 96))
        for split, digest in pinned.items():
            path = osp.join(out, 'annotations', f'instances_{split}.json')
            with open(path, 'rb') as f:
                assert hashlib.sha256(f.read()).hexdigest() == digest, split


def _make_pre_tune(out):
    """Turn a fresh dataset into one as written before the tune split: no
    tune files and no num_tune in meta.json."""
    os.remove(osp.join(out, 'annotations', 'instances_tune.json'))
    for name in os.listdir(osp.join(out, 'tune')):
        os.remove(osp.join(out, 'tune', name))
    os.rmdir(osp.join(out, 'tune'))
    meta_file = osp.join(out, 'meta.json')
    with open(meta_file) as f:
        meta = json.load(f)
    del meta['args']['num_tune'], meta['counts']['tune']
    with open(meta_file, 'w') as f:
        json.dump(meta, f)


def test_dataset_without_tune_is_regenerated(small, tmp_path):
    out = str(tmp_path / 'old')
    shapes.generate_shapes_dataset(out, **SMALL)
    before = tree_bytes(out)
    assert shapes.shapes_dataset_is_current(out, **SMALL)
    _make_pre_tune(out)
    assert not shapes.shapes_dataset_is_current(out, **SMALL)
    summary = shapes.generate_shapes_dataset(out, skip_existing=True, **SMALL)
    assert not summary['skipped']
    assert shapes.shapes_dataset_is_current(out, **SMALL)
    assert tree_bytes(out) == before


def test_missing_tune_images_not_current(small, tmp_path):
    out = str(tmp_path / 'partial')
    shapes.generate_shapes_dataset(out, **SMALL)
    os.remove(osp.join(out, 'tune', '000003.jpg'))
    assert not shapes.shapes_dataset_is_current(out, **SMALL)
    summary = shapes.generate_shapes_dataset(out, skip_existing=True, **SMALL)
    assert not summary['skipped']
    assert osp.isfile(osp.join(out, 'tune', '000003.jpg'))


def test_cli_num_tune(tmp_path, capsys):
    from conftest import load_tool
    tool = load_tool('make_shapes.py')
    assert tool.parse_args(['--out', 'x']).num_tune == \
        shapes.SHAPES_DEFAULTS.num_tune
    out = str(tmp_path / 'cli')
    args = [
        '--out', out, '--num-train', '2', '--num-val', '2', '--num-tune', '3',
        '--size', '64x64'
    ]
    assert tool.main(args) == 0
    assert 'tune: 3 images' in capsys.readouterr().out
    assert len(os.listdir(osp.join(out, 'tune'))) == 3
    assert tool.main(args) == 0  # same arguments: skipped
    assert '3 tune' in capsys.readouterr().out
    assert tool.main(args[:-4] + ['--num-tune', '0', '--size', '64x64']) == 2
    assert 'num_tune' in capsys.readouterr().err


def test_invalid_num_tune(tmp_path):
    with pytest.raises(ValueError, match='num_tune'):
        shapes.generate_shapes_dataset(str(tmp_path / 'x'), num_tune=0)
    assert not (tmp_path / 'x').exists()
