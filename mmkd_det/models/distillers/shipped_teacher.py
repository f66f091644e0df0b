"""Ship a trained teacher as a model zoo does: weights only, with a record.

A shipped teacher is a weights-only checkpoint (``state_dict`` plus the
``meta`` a distiller reads: class names and the config text with its input
normalization; no optimizer, no random states) and a JSON record beside it
(``<name>.json``): the config it belongs to, the checkpoint's SHA-256, the
commit that trained it and its AP on tune, on val and on the first
:data:`SLICE_IMAGES` val images. The slice is what a test re-evaluates on
any machine to check that the file and the record still agree.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from ...engine.teacher_check_hook import evaluate_first_images
from .teacher import build_teacher

#: Images of val the record's slice AP is measured on.
SLICE_IMAGES = 50
#: The meta keys a distiller reads from a teacher checkpoint.
_KEPT_META = ('dataset_meta', 'cfg', 'iter', 'seed', 'mmengine_version')


def file_sha256(path: str) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def export_weights(checkpoint: str, out: str) -> str:
    """Write the weights-only copy of a training checkpoint.

    Args:
        checkpoint (str): A checkpoint the runner saved (``iter_N.pth``).
        out (str): Where to write the copy (folders created).

    Returns:
        str: The SHA-256 of the written file.
    """
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    meta = {k: v for k, v in state.get('meta', {}).items() if k in _KEPT_META}
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state['state_dict']), out)
    return file_sha256(out)


def evaluate_checkpoint(config: str,
                        checkpoint: str,
                        options: List[str],
                        num_images: Optional[int] = None) -> Dict[str, Any]:
    """COCO bbox metrics of a detector checkpoint on a config's val data.

    Args:
        config (str): The detector config.
        checkpoint (str): Its weights (loaded strictly, weights-only safe).
        options (list[str]): ``--cfg-options`` strings for the config, e.g.
            :func:`mmkd_det.analysis.comparison.split_options` of a split.
        num_images (int, optional): The first this many images; all when
            None.

    Returns:
        dict: CocoMetric's ``bbox_*`` results.
    """
    from mmkd_det.analysis.comparison import parse_options
    init_default_scope('mmdet')  # the dataset and metric registries
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(parse_options(options))
    cfg.val_dataloader.num_workers = 0
    cfg.val_dataloader.persistent_workers = False
    loader = Runner.build_dataloader(cfg.val_dataloader)
    model = build_teacher(config, checkpoint)
    n = len(loader.dataset) if num_images is None else num_images
    return evaluate_first_images(model, loader, cfg.val_evaluator, n)


def read_record(checkpoint: str) -> Dict[str, Any]:
    """The JSON record beside a shipped checkpoint (``<name>.json``).

    Raises:
        FileNotFoundError: No record (the message says how to make one).
    """
    path = osp.splitext(checkpoint)[0] + '.json'
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} is missing: a shipped teacher comes with its record. '
            '`make teacher` trains the teacher and writes both.')
    with open(path, encoding='utf-8') as f:
        return json.load(f)
