"""Measure the detection calibration error (D-ECE) of a trained detector.

Runs the model over the config's ``test_dataloader``, matches the detections
with score >= ``--score-thr`` to the dataset's ground truth and writes
``calibration.json`` and ``reliability.png`` (default: next to the
checkpoint, i.e. into the run's work dir, where ``tools/report.py`` picks up
the D-ECE). Single process; uses the GPU when one is visible.

Example::

    python tools/analysis/calibration.py configs/kd_config.py \\
        work_dirs/kd/iter_12000.pth --score-thr 0.3
"""
import argparse
import json
import os
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

import torch  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmengine.model import revert_sync_batchnorm  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import mmkd_det  # noqa: E402,F401  (registers the package's modules)
from mmkd_det.analysis.calibration import evaluate_calibration  # noqa: E402
from mmkd_det.analysis.calibration import (gt_from_instances,
                                           reliability_diagram)
from mmkd_det.engine import add_config_args, load_tool_config  # noqa: E402
from mmkd_det.utils import checkpoint_safe_globals  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Detection expected calibration error (D-ECE, Kueppers '
        'et al. 2020) of a detector on its test split.')
    parser.add_argument('config', help='mmdet 3.x config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out-dir',
        help='where to write calibration.json '
        'and reliability.png (default: the checkpoint folder)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='only detections with at least this score count')
    parser.add_argument(
        '--iou-thr',
        type=float,
        default=0.5,
        help='IoU for a detection to be a true positive')
    parser.add_argument(
        '--bins',
        type=int,
        default=15,
        help='number of equal-width confidence bins')
    add_config_args(parser)
    return parser.parse_args(argv)


def ground_truth_by_image(dataset) -> dict:
    """Ground truth of every image keyed by ``img_id`` (index if absent).

    At test time mmdet 3 data samples may carry no ``gt_instances``, so the
    ground truth comes from the dataset's annotations instead.
    """
    gts = {}
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        key = info.get('img_id', idx)
        if key in gts:
            raise ValueError(f'img_id {key!r} occurs twice in the test '
                             'dataset; cannot pair predictions with GT')
        gts[key] = gt_from_instances(info.get('instances', []))
    if not any(len(gt['gt_labels']) for gt in gts.values()):
        raise ValueError('The test dataset has no ground-truth instances; '
                         'calibration needs an annotated split (set '
                         'test_dataloader to the val split).')
    return gts


@torch.no_grad()
def collect_results(model, dataloader, gts: dict) -> list:
    """Predictions of ``model`` over ``dataloader`` paired with their GT."""
    results = []
    progress = ProgressBar(len(dataloader.dataset))
    for data in dataloader:
        for sample in model.test_step(data):
            # Without img_id, the unshuffled test sampler yields dataset order.
            key = sample.metainfo.get('img_id', len(results))
            if key not in gts:
                raise KeyError(f'No ground truth for image {key!r} '
                               f'({sample.metainfo.get("img_path")})')
            pred = sample.pred_instances
            results.append(
                dict(
                    pred_bboxes=pred.bboxes.cpu().numpy(),
                    pred_scores=pred.scores.cpu().numpy(),
                    pred_labels=pred.labels.cpu().numpy(),
                    **gts[key]))
            progress.update()
    return results


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = MODELS.build(cfg.model)
    with checkpoint_safe_globals():  # mmengine objects, weights_only load
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    if device == 'cpu':
        # SyncBN has no CPU kernel; plain BN is identical in eval mode.
        model = revert_sync_batchnorm(model)
    model.to(device).eval()

    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    results = collect_results(model, dataloader,
                              ground_truth_by_image(dataloader.dataset))
    calib = evaluate_calibration(
        results,
        iou_thr=args.iou_thr,
        n_bins=args.bins,
        score_thr=args.score_thr)

    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    os.makedirs(out_dir, exist_ok=True)
    summary = dict(
        d_ece=calib['d_ece'],
        num_detections=calib['num_detections'],
        num_images=len(results),
        score_thr=args.score_thr,
        iou_thr=args.iou_thr,
        config=args.config,
        checkpoint=args.checkpoint,
        bins=calib['bins'])
    json_path = osp.join(out_dir, 'calibration.json')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    png_path = reliability_diagram(
        calib['bins'],
        osp.join(out_dir, 'reliability.png'),
        title=f'{Path(args.config).stem}: D-ECE {100 * calib["d_ece"]:.2f}%')
    print(f'\nD-ECE: {calib["d_ece"]:.4f} ({calib["num_detections"]} '
          f'detections with score >= {args.score_thr}, IoU >= '
          f'{args.iou_thr}, {args.bins} bins)\nwrote {json_path} and '
          f'{png_path}')


if __name__ == '__main__':
    main()
