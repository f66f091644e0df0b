"""Write a student-only checkpoint from a distillation checkpoint.

``python tools/extract_student.py IN.pth OUT.pth``

Removes everything that exists only for distillation (the teacher, should a
checkpoint carry it, and trainable connectors such as ReviewKD's ABF), drops
the training state (optimizer, schedulers, message hub) and keeps ``meta``.
The result loads into the plain student config with plain mmdet.
"""
import argparse
import os
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

import torch  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint  # noqa: E402

from mmkd_det.models.distillers import RoIDistiller  # noqa: E402


def extract_student(checkpoint: dict) -> dict:
    """Return the student-only version of a (distillation) checkpoint.

    Args:
        checkpoint (dict): a checkpoint as saved by MMEngine.

    Returns:
        dict: ``{'meta': ..., 'state_dict': ...}`` without distillation parts.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    prefixes = RoIDistiller.DISTILLATION_PREFIXES
    student = {
        key: value
        for key, value in state_dict.items() if not key.startswith(prefixes)
        and not key.startswith(tuple(f'module.{p}' for p in prefixes))
    }
    meta = dict(checkpoint.get('meta', {}))
    meta['student_extracted'] = dict(
        removed_keys=len(state_dict) - len(student), prefixes=list(prefixes))
    return dict(meta=meta, state_dict=student)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('input', help='distillation checkpoint')
    parser.add_argument('output', help='student-only checkpoint to write')
    args = parser.parse_args()
    if not osp.isfile(args.input):
        raise SystemExit(f'Checkpoint not found: {args.input}')
    from mmkd_det.utils import checkpoint_safe_globals
    with checkpoint_safe_globals():  # mmengine's message hub, numpy arrays
        checkpoint = _load_checkpoint(args.input, map_location='cpu')
    student = extract_student(checkpoint)
    os.makedirs(osp.dirname(osp.abspath(args.output)), exist_ok=True)
    torch.save(student, args.output)
    removed = student['meta']['student_extracted']['removed_keys']
    print(f'Wrote {args.output}: {len(student["state_dict"])} student '
          f'tensors ({removed} distillation tensors removed).')


if __name__ == '__main__':
    main()
