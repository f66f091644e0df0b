"""One framework for the embedded COCO-format datasets (digits, shapes).

A dataset is a :class:`DatasetSpec`: its classes, its argument defaults and
checks, and a function that renders one image with its annotations. This
module does the rest the same way for every dataset: per-image random
streams, the split folders, the COCO annotation files, ``meta.json`` and the
"is the dataset on disk the one these arguments make?" checks.

Generation is deterministic: image ``i`` of split ``s`` uses its own
``numpy.random.Generator`` seeded from ``(seed, split id, i)``, so the same
arguments give byte-identical files, splits differ, and image ``i`` does not
depend on how many images its split has.
"""
import json
import os
import os.path as osp
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

#: Split name -> split id (part of every image's seed). ``tune`` is drawn
#: like ``val`` from its own stream: settings are chosen on it, reported
#: numbers come from ``val``.
SPLIT_IDS = {'train': 0, 'val': 1, 'tune': 2}
_IMAGE_NAME_RE = re.compile(r'^\d{6}\.(jpg|png)$')
_JPEG_QUALITY = 90

#: ``render(rng, split, params) -> (BGR uint8 image (H, W, 3), annotations)``;
#: annotations are COCO dicts without ``id``/``image_id``.
RenderFn = Callable[[np.random.Generator, str, Dict[str, Any]],
                    Tuple[np.ndarray, List[Dict[str, Any]]]]


@dataclass(frozen=True)
class DatasetSpec:
    """What makes one embedded dataset.

    Attributes:
        name (str): Short name, e.g. ``'digits'``, for error messages.
        description (str): The COCO files' ``info.description``.
        generator (str): Module recorded in ``meta.json`` (``generator``).
        version (int): Bump when the output changes for the same arguments;
            a dataset with another version is not current.
        classes (tuple[str]): Category names, ids ``1..len(classes)``.
        supercategories (tuple[str]): One per class.
        defaults (Callable[[], dict]): The default arguments.
        normalize (Callable[..., dict]): Checks keyword arguments (all of
            ``defaults()``'s keys) and returns the normalized parameters
            ``meta.json`` records; raises ``ValueError`` naming a bad one.
            The parameters hold ``seed``, ``num_<split>`` per split,
            ``size`` (``[H, W]``) and ``image_format``.
        render (RenderFn): Draws one image of a split.
        extra_meta (Callable[[dict], dict] | None): More ``meta.json`` fields
            (e.g. the hash of a source file), computed from the parameters.
    """
    name: str
    description: str
    generator: str
    version: int
    classes: Tuple[str, ...]
    supercategories: Tuple[str, ...]
    defaults: Callable[[], Dict[str, Any]]
    normalize: Callable[..., Dict[str, Any]]
    render: RenderFn
    extra_meta: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None

    def params(self, **kwargs) -> Dict[str, Any]:
        """Normalized parameters: ``kwargs`` over the defaults."""
        unknown = set(kwargs) - set(self.defaults())
        if unknown:
            raise ValueError(f'unknown {self.name} dataset argument(s) '
                             f'{sorted(unknown)}; known: '
                             f'{sorted(self.defaults())}')
        return self.normalize(**{**self.defaults(), **kwargs})


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream of image ``index`` of ``split``."""
    return np.random.default_rng([seed, SPLIT_IDS[split], index])


def _write_split(spec: DatasetSpec, out_dir: str, split: str,
                 params: Dict) -> Dict[str, Any]:
    h, w = params['size']
    ext = params['image_format']
    num = params[f'num_{split}']
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    for name in os.listdir(img_dir):  # stale images of an earlier run
        if _IMAGE_NAME_RE.match(name):
            os.remove(osp.join(img_dir, name))
    encode_args = [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY] if ext == 'jpg' \
        else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    images, annotations = [], []
    for index in range(num):
        img, anns = spec.render(
            image_rng(params['seed'], split, index), split, params)
        file_name = f'{index:06d}.{ext}'
        ok, buf = cv2.imencode('.' + ext, img, encode_args)
        if not ok:  # pragma: no cover
            raise RuntimeError(f'could not encode {file_name}')
        with open(osp.join(img_dir, file_name), 'wb') as f:
            f.write(buf.tobytes())
        image_id = index + 1
        images.append(
            dict(id=image_id, file_name=file_name, width=w, height=h))
        for ann in anns:
            annotations.append(
                dict(id=len(annotations) + 1, image_id=image_id, **ann))
    coco = dict(
        info=dict(
            description=spec.description,
            version=str(spec.version),
            split=split,
            seed=params['seed']),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i + 1, name=name, supercategory=sup)
            for i, (name,
                    sup) in enumerate(zip(spec.classes, spec.supercategories))
        ])
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
    with_objects = {a['image_id'] for a in annotations}
    return dict(
        ann_file=ann_file,
        img_dir=img_dir,
        num_images=num,
        num_annotations=len(annotations),
        num_empty_images=num - len(with_objects))


def read_meta(out_dir: str) -> Optional[Dict]:
    """``out_dir/meta.json`` (generator, version, arguments, counts), or None
    when it is missing or unreadable (not a complete dataset)."""
    try:
        with open(osp.join(out_dir, 'meta.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def meta_mismatch(spec: DatasetSpec, meta: Dict) -> Optional[Dict[str, Tuple]]:
    """How the dataset a ``meta.json`` record describes differs from the
    default dataset of ``spec``.

    Args:
        spec (DatasetSpec): The dataset's spec.
        meta (dict): The dataset's ``meta.json`` contents (also kept as each
            comparison record's ``dataset``).

    Returns:
        dict | None: None when it matches the defaults; else
        ``{name: (found, default)}`` per differing argument, with
        ``'version'`` for another generator version and ``'generator'`` for
        another dataset's generator (when ``meta`` names one).
    """
    expected = spec.params()
    found = meta.get('args', {})
    diff = {
        k: (found.get(k), v)
        for k, v in expected.items() if found.get(k) != v
    }
    if meta.get('version') != spec.version:
        diff['version'] = (meta.get('version'), spec.version)
    # records of comparison runs keep only the version and the arguments
    if 'generator' in meta and meta['generator'] != spec.generator:
        diff['generator'] = (meta['generator'], spec.generator)
    return diff or None


def dataset_is_current(spec: DatasetSpec, out_dir: str, **kwargs) -> bool:
    """Whether ``out_dir`` holds a complete dataset made with these args.

    Args:
        spec (DatasetSpec): The dataset's spec.
        out_dir (str): Dataset folder.
        **kwargs: Generator arguments (defaults filled in).

    Returns:
        bool: True if ``out_dir/meta.json`` records the same generator,
        version and arguments and every split's annotation file and image
        count is present.
    """
    params = spec.params(**kwargs)
    meta = read_meta(out_dir)
    if meta is None or meta.get('generator') != spec.generator or \
            meta.get('version') != spec.version or \
            meta.get('args') != params:
        return False
    for split in SPLIT_IDS:
        if not osp.isfile(
                osp.join(out_dir, 'annotations', f'instances_{split}.json')):
            return False
        img_dir = osp.join(out_dir, split)
        if not osp.isdir(img_dir):
            return False
        n = sum(1 for name in os.listdir(img_dir)
                if _IMAGE_NAME_RE.match(name))
        if n != params[f'num_{split}']:
            return False
    return True


def generate_dataset(spec: DatasetSpec,
                     out_dir: str,
                     skip_existing: bool = False,
                     **kwargs) -> Dict[str, Any]:
    """Write the dataset of ``spec`` in COCO format.

    Writes ``annotations/instances_{train,val,tune}.json``, the images in
    ``train/``, ``val/`` and ``tune/`` and ``meta.json`` (written last, so an
    interrupted run is never mistaken for a complete one). Images named like
    ``000000.jpg`` that an earlier run left in the split folders are removed.

    Args:
        spec (DatasetSpec): The dataset.
        out_dir (str): Output folder (created if missing).
        skip_existing (bool): Return without writing anything if ``out_dir``
            already holds a complete dataset generated with the same
            arguments (see :func:`dataset_is_current`). Defaults to False.
        **kwargs: Generator arguments over ``spec.defaults()``.

    Returns:
        dict: Summary with ``out_dir``, ``meta_file``, ``skipped``,
        ``seconds`` and per split a dict with ``ann_file``, ``img_dir``,
        ``num_images``, ``num_annotations`` and ``num_empty_images`` (when
        skipped, the counts come from ``meta.json``).

    Raises:
        ValueError: On an invalid argument (the message names it).
    """
    params = spec.params(**kwargs)
    t0 = time.perf_counter()
    meta_file = osp.join(out_dir, 'meta.json')
    summary: Dict[str, Any] = dict(out_dir=out_dir, meta_file=meta_file)
    if skip_existing and dataset_is_current(spec, out_dir, **params):
        counts = read_meta(out_dir).get('counts', {})
        summary['skipped'] = True
        for split in SPLIT_IDS:
            summary[split] = dict(
                ann_file=osp.join(out_dir, 'annotations',
                                  f'instances_{split}.json'),
                img_dir=osp.join(out_dir, split),
                num_images=params[f'num_{split}'],
                num_annotations=counts.get(split, {}).get('num_annotations'),
                num_empty_images=counts.get(split, {}).get('num_empty_images'))
        summary['seconds'] = time.perf_counter() - t0
        return summary

    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    if osp.exists(meta_file):
        os.remove(meta_file)
    summary['skipped'] = False
    for split in SPLIT_IDS:
        summary[split] = _write_split(spec, out_dir, split, params)
    counts = {
        split: {
            k: summary[split][k]
            for k in ('num_images', 'num_annotations', 'num_empty_images')
        }
        for split in SPLIT_IDS
    }
    meta = dict(
        generator=spec.generator,
        version=spec.version,
        args=params,
        counts=counts)
    if spec.extra_meta is not None:
        meta.update(spec.extra_meta(params))
    with open(meta_file, 'w') as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write('\n')
    summary['seconds'] = time.perf_counter() - t0
    return summary
