"""Tests of the synthetic "shapes" COCO dataset: generator, ShapesDataset
and tools/make_shapes.py. All datasets here are tiny (a few dozen images)."""
import argparse
import inspect
import json
import os
import os.path as osp
import subprocess
import sys
from dataclasses import asdict, fields

import numpy as np
import pytest
from conftest import TOOLS, load_tool, tree_bytes

import mmkd_det.datasets.shapes as shapes

TOOL = osp.join(TOOLS, 'make_shapes.py')


def _load_tool():
    return load_tool('make_shapes.py')


H, W = 96, 128  # non-square, to catch H/W mix-ups
TINY = dict(
    seed=0,
    num_train=10,
    num_val=12,
    num_tune=6,
    size=(H, W),
    empty_fraction=0.25)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('shapes_tiny'))
    summary = shapes.generate_shapes_dataset(out, **TINY)
    return out, summary


@pytest.fixture(scope='module')
def modest(tmp_path_factory):
    """Default image size and object sizes, 40 val images."""
    out = str(tmp_path_factory.mktemp('shapes_modest'))
    shapes.generate_shapes_dataset(out, seed=0, num_train=1, num_val=40)
    with open(osp.join(out, 'annotations', 'instances_val.json')) as f:
        return json.load(f)


def test_one_set_of_defaults():
    """The generator and make_shapes.py share SHAPES_DEFAULTS."""
    defaults = asdict(shapes.SHAPES_DEFAULTS)
    signature = inspect.signature(shapes.generate_shapes_dataset).parameters
    assert {name: signature[name].default for name in defaults} == defaults
    with pytest.raises(AttributeError):  # frozen: nobody changes them
        shapes.SHAPES_DEFAULTS.num_train = 1
    cli = vars(_load_tool().parse_args(['--out', 'x']))
    for field in fields(shapes.ShapesDefaults):
        if field.name in cli:
            assert cli[field.name] == defaults[field.name], field.name
    assert {'seed', 'num_train', 'num_val', 'size'} <= set(cli)


def test_classes_and_metainfo():
    assert len(shapes.SHAPES_CLASSES) == 8
    assert len(set(shapes.SHAPES_CLASSES)) == 8
    meta = shapes.ShapesDataset.METAINFO
    assert tuple(meta['classes']) == shapes.SHAPES_CLASSES
    assert len(meta['palette']) == 8
    assert all(
        len(c) == 3 and all(0 <= v <= 255 for v in c) for c in meta['palette'])


def test_layout_and_summary(tiny):
    out, summary = tiny
    assert not summary['skipped']
    for split, n in (('train', 10), ('val', 12)):
        s = summary[split]
        assert s['num_images'] == n
        assert osp.isfile(s['ann_file'])
        assert sorted(os.listdir(osp.join(
            out, split))) == [f'{i:06d}.jpg' for i in range(n)]
    with open(osp.join(out, 'meta.json')) as f:
        meta = json.load(f)
    assert meta['version'] == shapes.SHAPES_VERSION
    assert meta['args']['size'] == [H, W]
    assert meta['args']['num_val'] == 12


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_loads_and_boxes_valid(tiny, split):
    from pycocotools.coco import COCO
    out, summary = tiny
    coco = COCO(summary[split]['ann_file'])
    cats = coco.loadCats(coco.getCatIds())
    assert [c['id'] for c in cats] == list(range(1, 9))
    assert tuple(c['name'] for c in cats) == shapes.SHAPES_CLASSES
    img_ids = coco.getImgIds()
    assert len(img_ids) == summary[split]['num_images']
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == summary[split]['num_annotations'] > 0
    assert len({a['id'] for a in anns}) == len(anns)
    for img in coco.loadImgs(img_ids):
        assert (img['height'], img['width']) == (H, W)
        assert osp.isfile(osp.join(out, split, img['file_name']))
    for a in anns:
        x, y, w, h = a['bbox']
        assert all(isinstance(v, float) for v in a['bbox'])
        assert w > 0 and h > 0
        assert x >= 0 and y >= 0 and x + w <= W and y + h <= H
        assert 1 <= a['category_id'] <= 8
        assert a['iscrowd'] == 0
        assert 0 < a['area'] <= w * h
        assert a['segmentation'] and all(
            len(p) >= 6 and len(p) % 2 == 0 for p in a['segmentation'])
        # The mask rasterised from the polygon roughly fills the box.
        m = coco.annToMask(a)
        assert m.shape == (H, W) and m.sum() > 0
        ys, xs = np.nonzero(m)
        assert xs.min() >= x - 1 and xs.max() <= x + w
        assert ys.min() >= y - 1 and ys.max() <= y + h


def test_images_match_json_size(tiny):
    import cv2
    out, summary = tiny
    img = cv2.imread(osp.join(out, 'val', '000000.jpg'))
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert img.std() > 5  # textured, not blank


def test_deterministic_and_seed_dependent(tiny, tmp_path):
    out, _ = tiny
    same = str(tmp_path / 'same')
    shapes.generate_shapes_dataset(same, **TINY)
    a, b = tree_bytes(out), tree_bytes(same)
    assert sorted(a) == sorted(b)
    assert any(k.startswith('tune' + os.sep) for k in a)
    assert all(a[k] == b[k] for k in a)

    other = str(tmp_path / 'other')
    shapes.generate_shapes_dataset(other, **{**TINY, 'seed': 1})
    c = tree_bytes(other)
    for key in ('annotations/instances_val.json', 'val/000000.jpg',
                'train/000003.jpg'):
        assert a[key] != c[key]
    # Train and val images are drawn independently.
    assert a['train/000000.jpg'] != a['val/000000.jpg']


def test_images_independent_of_split_size(tiny, tmp_path):
    out, _ = tiny
    small = str(tmp_path / 'small')
    shapes.generate_shapes_dataset(small, **{
        **TINY, 'num_train': 4,
        'num_val': 3
    })
    few, full = tree_bytes(small), tree_bytes(out)
    for split, n in (('train', 4), ('val', 3)):
        for i in range(n):
            name = osp.join(split, f'{i:06d}.jpg')
            assert few[name] == full[name]


def test_empty_images(tiny, tmp_path):
    out, summary = tiny
    with open(summary['val']['ann_file']) as f:
        coco = json.load(f)
    with_objects = {a['image_id'] for a in coco['annotations']}
    n_empty = sum(im['id'] not in with_objects for im in coco['images'])
    assert n_empty == summary['val']['num_empty_images']
    assert 0 < n_empty < len(coco['images'])

    everything_empty = shapes.generate_shapes_dataset(
        str(tmp_path / 'empty'),
        num_train=2,
        num_val=2,
        size=(64, 64),
        empty_fraction=1.0)
    assert everything_empty['train']['num_annotations'] == 0
    assert everything_empty['val']['num_empty_images'] == 2


def test_default_split_has_some_empty_images(modest):
    # ~5% of the images have no objects by default; 40 images at seed 0
    # happen to hold at least one (deterministic).
    with_objects = {a['image_id'] for a in modest['annotations']}
    assert any(im['id'] not in with_objects for im in modest['images'])


def test_object_sizes_span_small_to_large(modest):
    boxes = np.array([a['bbox'] for a in modest['annotations']])
    side = boxes[:, 2:].max(1)
    image_side = min(shapes.SHAPES_DEFAULTS.size)  # 128: objects <= 102 px
    assert side.min() < 20
    assert side.max() > 0.6 * image_side  # large objects too
    assert np.median(side) < 0.4 * image_side  # skewed to small / medium
    assert len(boxes) / len(modest['images']) > 2
    assert set(a['category_id']
               for a in modest['annotations']) == set(range(1, 9))


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_train=0), 'num_train'),
    (dict(num_val=-3), 'num_val'),
    (dict(num_train=2.5), 'num_train'),
    (dict(seed=-1), 'seed'),
    (dict(size=(16, 64)), 'size'),
    (dict(size=(64, 8)), 'size'),
    (dict(size='64x64'), 'size'),
    (dict(empty_fraction=1.5), 'empty_fraction'),
    (dict(image_format='bmp'), 'image_format'),
])
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes.generate_shapes_dataset(str(tmp_path / 'x'), **kwargs)
    assert not (tmp_path / 'x').exists()


@pytest.mark.slow
def test_mmdet_pipeline_reads_it(tiny):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules()
    out, summary = tiny
    ds = DATASETS.build(
        dict(
            type='ShapesDataset',
            data_root=out,
            ann_file='annotations/instances_val.json',
            data_prefix=dict(img='val/'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='PackDetInputs')
            ]))
    assert isinstance(ds, shapes.ShapesDataset)
    assert tuple(ds.metainfo['classes']) == shapes.SHAPES_CLASSES
    assert len(ds) == summary['val']['num_images']

    with open(summary['val']['ann_file']) as f:
        coco = json.load(f)
    by_image = {}
    for a in coco['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    checked = 0
    for idx in range(len(ds)):
        info = ds.get_data_info(idx)
        anns = by_image.get(info['img_id'], [])
        if not anns:
            continue
        item = ds[idx]
        assert tuple(item['inputs'].shape) == (3, H, W)
        sample = item['data_samples']
        assert sample.img_shape == (H, W)
        expected = np.array([[x, y, x + w, y + h]
                             for x, y, w, h in (a['bbox'] for a in anns)])
        np.testing.assert_allclose(
            sample.gt_instances.bboxes.numpy(), expected, atol=1e-4)
        np.testing.assert_array_equal(sample.gt_instances.labels.numpy(),
                                      [a['category_id'] - 1 for a in anns])
        checked += 1
        if checked == 2:
            break
    assert checked == 2


@pytest.mark.slow
def test_cli_subprocess(tmp_path):
    out = tmp_path / 'cli'
    cmd = [
        sys.executable, TOOL, '--out',
        str(out), '--num-train', '3', '--num-val', '2', '--size', '64x80',
        '--seed', '5'
    ]
    # Run outside the repo so that the tool has to find mmkd_det itself.
    proc = subprocess.run(
        cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with open(out / 'annotations' / 'instances_train.json') as f:
        coco = json.load(f)
    assert len(coco['images']) == 3
    image = coco['images'][0]
    assert (image['height'], image['width']) == (64, 80)
    assert sorted(os.listdir(out / 'val')) == ['000000.jpg', '000001.jpg']
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['args']['seed'] == 5 and meta['args']['size'] == [64, 80]


def test_cli_skip_and_force(tmp_path, capsys):
    tool = _load_tool()
    out = str(tmp_path / 'cli')
    args = [
        '--out', out, '--num-train', '4', '--num-val', '2', '--size', '64x64'
    ]
    meta = osp.join(out, 'meta.json')

    def written():
        """meta.json's mtime, or None; meta.json is written last."""
        return os.stat(meta).st_mtime_ns if osp.exists(meta) else None

    assert tool.main(args) == 0
    stamp = written()
    assert stamp is not None

    assert tool.main(args) == 0  # same arguments: skipped
    assert written() == stamp

    assert tool.main(args + ['--force']) == 0
    assert written() not in (None, stamp)
    stamp = written()

    # Other arguments regenerate, and stale images are removed.
    assert tool.main(args[:2] + ['--num-train', '2', '--num-val', '2']) == 0
    assert written() not in (None, stamp)
    stamp = written()
    assert sorted(os.listdir(osp.join(
        out, 'train'))) == ['000000.jpg', '000001.jpg']
    # An incomplete dataset (image deleted) is regenerated too.
    os.remove(osp.join(out, 'val', '000001.jpg'))
    assert tool.main(args[:2] + ['--num-train', '2', '--num-val', '2']) == 0
    assert written() not in (None, stamp)
    assert osp.isfile(osp.join(out, 'val', '000001.jpg'))
    capsys.readouterr()


def test_cli_rejects_too_small_size(tmp_path, capsys):
    tool = _load_tool()
    out = tmp_path / 'small'
    assert tool.main(['--out', str(out), '--size', '8x8']) == 2
    err = capsys.readouterr().err
    assert 'size' in err and '32' in err
    assert not (out / 'meta.json').exists()


@pytest.mark.parametrize(
    'text',
    ['192', '192x', 'x192', '192*192', 'axb', '0x64', '64x-1', '1.5x64', ''])
def test_parse_size_rejects(text):
    tool = _load_tool()
    with pytest.raises(argparse.ArgumentTypeError, match='HxW|positive'):
        tool.parse_size(text)


def test_parse_size_accepts():
    tool = _load_tool()
    assert tool.parse_size('192x160') == (192, 160)
    assert tool.parse_size('64X48') == (64, 48)


@pytest.mark.slow
def test_cli_bad_size_subprocess(tmp_path):
    proc = subprocess.run([
        sys.executable, TOOL, '--out',
        str(tmp_path / 'x'), '--size', '192by192'
    ],
                          capture_output=True,
                          text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "invalid size '192by192'" in proc.stderr
    assert 'HxW' in proc.stderr
    assert not (tmp_path / 'x').exists()


def test_args_mismatch_names_what_differs(tiny, tmp_path):
    """What the comparison checks before it trains: the differing generator
    arguments, with the found and the default value; nothing for a folder
    that is not a shapes dataset or matches the defaults."""
    out, _ = tiny
    mismatch = shapes.shapes_args_mismatch(out)
    assert mismatch['num_train'] == (TINY['num_train'],
                                     shapes.SHAPES_DEFAULTS.num_train)
    assert 'seed' not in mismatch  # equal to the default: not listed
    assert shapes.shapes_args_mismatch(str(tmp_path)) is None
    meta = shapes.read_shapes_meta(out)
    meta['args'].update({k: v for k, (_, v) in mismatch.items()})
    with open(tmp_path / 'meta.json', 'w') as f:
        json.dump(meta, f)
    assert shapes.shapes_args_mismatch(str(tmp_path)) is None
    meta['version'] = 'other'
    with open(tmp_path / 'meta.json', 'w') as f:
        json.dump(meta, f)
    assert shapes.shapes_args_mismatch(str(tmp_path)) == {
        'version': ('other', shapes.SHAPES_VERSION)
    }
