#!/usr/bin/env python
"""Train a pair's teacher and ship it: weights-only checkpoint + record.

``make teacher`` runs this for the digits pair::

    python tools/ship_teacher.py                       # train, then ship
    python tools/ship_teacher.py --checkpoint RUN.pth  # ship a trained one

Training is ``tools/train.py <teacher config>`` with seed 0, validating on
the ``tune`` split (the teacher is chosen on nothing, but its curve is
never read on val). The shipped files are the pair's
``teacher_checkpoint`` (``mmkd_det/utils/methods.py``) and its record
``<name>.json``: config, SHA-256, commit, and the bbox AP on tune, on val
and on the first val images (what ``tests/test_shipped_teacher.py``
re-evaluates).
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

import torch  # noqa: E402

from mmkd_det.analysis.comparison import REPO_ROOT  # noqa: E402
from mmkd_det.analysis.comparison import (PAIRS, TEACHER_SEED, final_config,
                                          pair_dataset, split_options)
from mmkd_det.analysis.records import git_commit  # noqa: E402
from mmkd_det.models.distillers.shipped_teacher import (  # noqa: E402
    SLICE_IMAGES, evaluate_checkpoint, export_weights)
from mmkd_det.utils import methods as registry  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train a pair's teacher and ship it (weights only, "
        'with a record of its AP).')
    parser.add_argument(
        '--pair',
        default='digits',
        choices=[p for p in PAIRS if registry.shipped_teacher(p)])
    parser.add_argument(
        '--checkpoint',
        help='ship this trained checkpoint instead of training one')
    parser.add_argument(
        '--work-dir',
        help='training folder (default: work_dirs/teacher_<pair>)')
    return parser.parse_args(argv)


def _rel(path: str) -> str:
    return osp.relpath(osp.abspath(path), REPO_ROOT)


def main(argv=None) -> int:
    args = parse_args(argv)
    dataset = pair_dataset(args.pair)
    data_root = dataset.root()
    dataset.generate(data_root, skip_existing=True)
    config = registry.teacher_config(args.pair)
    tune_opts = split_options('tune', data_root)
    train_opts = tune_opts + [f'randomness.seed={TEACHER_SEED}']
    command = None
    if args.checkpoint is None:
        work_dir = args.work_dir or osp.join(REPO_ROOT, 'work_dirs',
                                             f'teacher_{args.pair}')
        max_iters = int(
            final_config(config, [], data_root).train_cfg.max_iters)
        cmd = [
            sys.executable,
            osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
            work_dir, '--cfg-options', *train_opts
        ]
        command = ' '.join([
            _rel(config), '--cfg-options', 'randomness.seed='
            f'{TEACHER_SEED}', '(+ tune split options)'
        ])
        print(f'Training the {args.pair} teacher ({max_iters} iterations); '
              f'log in {work_dir}/')
        os.makedirs(work_dir, exist_ok=True)
        t0 = time.time()
        with open(osp.join(work_dir, 'train.log'), 'w') as log:
            subprocess.run(
                cmd,
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT)
        print(f'trained in {time.time() - t0:.0f} s')
        args.checkpoint = osp.join(work_dir, f'iter_{max_iters}.pth')
    out = registry.shipped_teacher(args.pair)
    sha = export_weights(args.checkpoint, out)
    ap = {}
    for split, n in (('tune', None), ('val', None), ('val', SLICE_IMAGES)):
        metrics = evaluate_checkpoint(config, out,
                                      split_options(split, data_root), n)
        key = split if n is None else f'{split}_first{n}'
        ap[key] = {k: metrics[k] for k in sorted(metrics)}
        print(f"{key}: bbox AP {metrics.get('bbox_mAP', 0.0):.3f}")
    record = dict(
        pair=args.pair,
        config=_rel(config),
        checkpoint=_rel(out),
        sha256=sha,
        size_bytes=osp.getsize(out),
        trained_from=_rel(args.checkpoint),
        train_command=command,
        seed=TEACHER_SEED,
        commit=git_commit(REPO_ROOT),
        dataset=dict(
            name=dataset.name,
            version=dataset.spec.version,
            args=dataset.spec.params()),
        slice_images=SLICE_IMAGES,
        bbox=ap,
        evaluated_with=dict(
            torch=torch.__version__,
            python=platform.python_version(),
            machine=platform.machine()))
    path = osp.splitext(out)[0] + '.json'
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write('\n')
    print(f'wrote {_rel(out)} ({record["size_bytes"] / 1e6:.1f} MB, sha256 '
          f'{sha[:12]}...) and {_rel(path)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
