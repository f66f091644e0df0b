"""Cost of RoI distillation relative to training the student alone.

``python tools/analysis/benchmark_distill.py CONFIG [options]``

In one process, on the models of a distillation config (an ``RoIDistiller``)
and synthetic inputs (``mmdet.testing.demo_mm_inputs``: B images of HxW with
a few gt boxes each), times the median wall time per iteration after warm-up:

(a) student-only training step: ``RoIDistiller.student_loss``, i.e. mmdet's
    own ``TwoStageDetector.loss`` on the distiller's student (backbone, FPN,
    RPN, assigners/samplers, RoI head and losses; no teacher, no
    distillation loss), + backward + optimizer step;
(b) the teacher's no-grad forward on that step's RoIs of every student
    stage (``model.teacher_outputs``);
(c) a full distillation step: ``model.loss`` + backward + optimizer step;
(d) a naive no-grad teacher pass: mmdet's ``TwoStageDetector.loss`` of the
    teacher itself, i.e. its own RPN, proposals, assign/sample and heads
    (what a distiller that does not reuse the student's RoIs would pay; it
    also computes the teacher's loss terms, a small extra).

The four are run round robin (a, b, c, d, a, b, ...) so that changes in the
load of a shared machine affect all of them alike. It reports c / (a + b),
whose floor is ~1.0 (the distillation loss adds only little on top of the
student step and the teacher forward), and the peak memory of (a) and (c),
each measured in a separate single step after the timing.

``--teacher-precision fp32 bf16`` repeats all of it once per teacher
precision (``RoIDistiller.teacher_precision``: (b) and (c) run the teacher
under that autocast; (a) has no teacher and (d) stays fp32, since mmcv's CPU
NMS has no bf16) and compares (b) and (c) with the first precision's.
``--json PATH`` writes every number. At COCO size, with no COCO and no
teacher checkpoint needed::

    python tools/analysis/benchmark_distill.py \
        configs/distill/kd/kd_r101-r18_fpn_coco.py --random-teacher \
        --device cuda --batch 2 --size 800x1333 --teacher-precision fp32 fp16

Both (a) and (c) go through the optimizer wrapper built from the config
(``DistillOptimWrapperConstructor``, gradient clipping included), as the
runner's ``train_step`` does; data preprocessing is done once, outside the
timed region, since it is identical for every phase.
"""
import argparse
import contextlib
import json
import math
import os.path as osp
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmkd_det.engine import add_config_args, load_tool_config  # noqa: E402
from mmkd_det.models.distillers.teacher_precision import (  # noqa: E402
    TEACHER_PRECISIONS, check_teacher_precision)
from mmkd_det.utils.benchmark import (compare_precisions, format_report,
                                      load_warning, measure_peak,
                                      time_interleaved, to_json)
from mmkd_det.utils.cli import parse_size as parse_hw  # noqa: E402
from mmkd_det.utils.cli import positive_int  # noqa: E402


def parse_size(text: str):
    """``'192x160'`` -> (192, 160) as (H, W); ``'192'`` -> (192, 192)."""
    return parse_hw(text, allow_square=True, min_side=32)


def write_random_teacher(teacher_config, path: str, seed: int = 0) -> None:
    """Save a randomly initialised teacher (PyTorch default init) to path.

    ``init_weights`` is not called, so no pretrained weights are fetched; the
    speed of the teacher does not depend on its weights.
    """
    from mmdet.registry import MODELS

    from mmkd_det.models.distillers.teacher import load_model_config
    torch.manual_seed(seed)
    teacher = MODELS.build(load_model_config(teacher_config))
    torch.save(
        {
            'meta': {
                'note': 'random teacher for benchmarking'
            },
            'state_dict': teacher.state_dict()
        }, path)


def build_distiller(cfg: Config, device):
    """Build the distiller of ``cfg`` in train mode and its optimizer."""
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    # init_weights() is not called: the speed does not depend on the values,
    # and COCO configs would download ImageNet weights.
    model = MODELS.build(cfg.model).to(device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    return model, optim_wrapper


def make_batch(model, batch: int, size, num_classes: int, num_gts: int = 3):
    """Preprocessed synthetic batch: ``(inputs, data_samples)``."""
    from mmdet.testing import demo_mm_inputs
    h, w = size
    packed = demo_mm_inputs(
        batch_size=batch,
        image_shapes=(3, h, w),
        num_items=[num_gts] * batch,
        num_classes=num_classes,
        with_mask=True)  # mask students and teachers need gt masks
    data = model.data_preprocessor(packed, training=True)
    return data['inputs'], data['data_samples']


def student_record(model, inputs, data_samples):
    """What the student's RoI head keeps in one step (RoIs per stage)."""
    with torch.no_grad():
        return model.student_loss(inputs, data_samples)[1]


def make_steps(model, optim_wrapper, inputs, data_samples,
               record) -> Dict[str, Callable[[], object]]:
    """The four timed phases as argument-free callables.

    All four run mmdet's and the distiller's own code paths: (a) is
    ``RoIDistiller.student_loss`` (mmdet's ``TwoStageDetector.loss``), (b)
    the distiller's teacher calls on the recorded RoIs, (c) ``model.loss``
    and (d) mmdet's ``TwoStageDetector.loss`` of the teacher itself (its own
    RPN, sampling and heads, plus its loss terms).
    """
    from mmdet.models.detectors import TwoStageDetector

    def train_step(loss_fn):
        with optim_wrapper.optim_context(model):
            losses = loss_fn(inputs, data_samples)
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    def student_step():
        train_step(lambda i, s: model.student_loss(i, s)[0])

    def distill_step():
        train_step(model.loss)

    batch_img_metas = [s.metainfo for s in data_samples]

    def teacher_on_student_rois():
        return model.teacher_outputs(inputs, record, batch_img_metas)

    @torch.no_grad()
    def naive_teacher():
        return TwoStageDetector.loss(model.teacher,
                                     model.teacher_inputs(inputs),
                                     data_samples)

    return {
        'a': student_step,
        'b': teacher_on_student_rois,
        'c': distill_step,
        'd': naive_teacher
    }


# ----------------------------------------------------------------------------
# command line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='distillation config (RoIDistiller)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--batch', type=positive_int, default=4, help='images')
    parser.add_argument(
        '--size',
        type=parse_size,
        default=(128, 128),
        help='image size HxW (default 128x128, the shapes images)')
    parser.add_argument(
        '--num-gts', type=positive_int, default=3, help='gt boxes per image')
    parser.add_argument(
        '--iters',
        type=positive_int,
        default=10,
        help='timed iterations per phase')
    parser.add_argument(
        '--warmup',
        type=int,
        default=3,
        help='untimed iterations per phase first')
    teacher = parser.add_mutually_exclusive_group()
    teacher.add_argument(
        '--teacher-checkpoint',
        help="override the config's teacher checkpoint")
    teacher.add_argument(
        '--random-teacher',
        action='store_true',
        help='build the teacher from its config with random weights, saved '
        'to a temporary checkpoint (for speed measurements only)')
    parser.add_argument(
        '--teacher-precision',
        nargs='+',
        default=['fp32'],
        choices=list(TEACHER_PRECISIONS),
        help='time everything once per teacher precision (fp16: CUDA only); '
        'the first is the reference of the comparison')
    parser.add_argument('--json', help='also write the results to this file')
    add_config_args(parser)
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error(f'need --warmup >= 0, got {args.warmup}')
    return args


def losses_finite(model, inputs, data_samples) -> bool:
    """Whether one distillation loss computation gives finite values (a
    random teacher at half precision might overflow)."""
    with torch.no_grad():
        losses = model.loss(inputs, data_samples)
    return all(
        math.isfinite(float(v.sum())) for value in losses.values()
        for v in (value if isinstance(value, list) else [value]))


def run_benchmark(args: argparse.Namespace) -> dict:
    """Build the models, time the four phases and measure peak memory.

    Args:
        args (argparse.Namespace): the parsed :func:`parse_args` arguments.

    Returns:
        dict: ``runs`` (teacher precision -> ``times``: phase -> per-iteration
        ms, ``mem``: ``'a'``, ``'c'`` ->
        :class:`~mmkd_det.utils.benchmark.PeakMemory`, ``losses_finite``)
        and ``has_feature_losses``.
    """
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda requested but CUDA is not available')
    if 'fp16' in args.teacher_precision and args.device != 'cuda':
        raise SystemExit('--teacher-precision fp16 needs --device cuda; on '
                         'CPU time bf16.')
    device = torch.device(args.device)
    # before this process loads the cores itself
    load = load_warning(device)

    cfg = load_tool_config(args)
    if cfg.model.get('type') != 'RoIDistiller' or 'teacher' not in cfg.model:
        raise SystemExit(f'{args.config} is not a distillation config '
                         '(model.type must be RoIDistiller).')
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    has_feature_losses = bool(cfg.model.get('feature_losses'))

    with contextlib.ExitStack() as stack:
        if args.random_teacher:
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            path = osp.join(tmp, 'random_teacher.pth')
            write_random_teacher(cfg.model.teacher.config, path)
            cfg.model.teacher.checkpoint = path
            print('NOTE: --random-teacher: the teacher has random weights '
                  f'(temporary checkpoint {path}); timings only.')
        elif args.teacher_checkpoint:
            cfg.model.teacher.checkpoint = args.teacher_checkpoint
        try:
            model, optim_wrapper = build_distiller(cfg, device)
        except FileNotFoundError as err:
            raise SystemExit(f'{err}\nOr pass --teacher-checkpoint PATH, or '
                             '--random-teacher to time a random teacher.')

        inputs, data_samples = make_batch(model, args.batch, args.size,
                                          num_classes, args.num_gts)
        record = student_record(model, inputs, data_samples)
        steps = make_steps(model, optim_wrapper, inputs, data_samples, record)

        h, w = args.size
        losses = list(cfg.model.get('logit_losses') or {}) + list(
            cfg.model.get('feature_losses') or {})
        print(f'config: {args.config}')
        print(f'device={device} batch={args.batch} size={h}x{w} '
              f'gts/img={args.num_gts} classes={num_classes} '
              f'iters={args.iters} warmup={args.warmup} '
              f'threads={torch.get_num_threads()} torch={torch.__version__}')
        print(f'distillation losses: {", ".join(losses)}; '
              'student RoIs per step and stage: '
              f'{[stage.rois.size(0) for stage in record.stages]}')
        print('(a) = RoIDistiller.student_loss (mmdet\'s TwoStageDetector.'
              'loss, no teacher) + backward + optimizer step')
        print('phases run round robin; times are wall clock per iteration')

        if load:
            print(load)
        runs = {}
        for precision in args.teacher_precision:
            model.teacher_precision = check_teacher_precision(precision)
            runs[precision] = dict(
                times=time_interleaved(steps, args.iters, args.warmup, device),
                mem={
                    key: measure_peak(steps[key], device)
                    for key in ('a', 'c')
                },
                losses_finite=losses_finite(model, inputs, data_samples))
    return dict(runs=runs, has_feature_losses=has_feature_losses)


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run_benchmark(args)
    for precision, run in result['runs'].items():
        print(f'--- teacher_precision={precision}')
        print('\n'.join(
            format_report(run['times'], run['mem'],
                          result['has_feature_losses'])))
    print('\n'.join(compare_precisions(result['runs'])))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(to_json(result, args), f, indent=2)
        print(f'results written to {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
