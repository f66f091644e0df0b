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

Both (a) and (c) go through the optimizer wrapper built from the config
(``DistillOptimWrapperConstructor``, gradient clipping included), as the
runner's ``train_step`` does; data preprocessing is done once, outside the
timed region, since it is identical for every phase.
"""
import argparse
import contextlib
import os.path as osp
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmkd_det.engine import add_config_args, load_tool_config  # noqa: E402
from mmkd_det.utils.benchmark import load_warning  # noqa: E402
from mmkd_det.utils.benchmark import (PeakMemory, measure_peak, summarize,
                                      time_interleaved)
from mmkd_det.utils.cli import parse_size as parse_hw  # noqa: E402
from mmkd_det.utils.cli import positive_int  # noqa: E402

# Targets for c / (a + b): logit-only distillation adds a loss on (N, C+1)
# logits; feature distillation (ReviewKD) also runs connectors on the FPN.
LOGIT_TARGET = 1.05
FEATURE_TARGET = 1.10

PHASES = {
    'a': 'student-only step (fwd+bwd+opt)',
    'b': 'teacher forward on student RoIs',
    'c': 'distillation step (fwd+bwd+opt)',
    'd': 'naive teacher (own RPN+sampling)',
}


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
    add_config_args(parser)
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error(f'need --warmup >= 0, got {args.warmup}')
    return args


def format_report(times: Dict[str, List[float]], mem: Dict[str, PeakMemory],
                  has_feature_losses: bool) -> List[str]:
    """The result table as lines of text."""
    stats = summarize(times)
    med = {k: median for k, (median, _) in stats.items()}
    lines = [
        f"{'phase':<38} {'median_ms':>10} {'min_ms':>9} "
        f"{'max_ms':>9}"
    ]
    for key, label in PHASES.items():
        ts = times[key]
        lines.append(f'({key}) {label:<34} {med[key]:>10.1f} '
                     f'{min(ts):>9.1f} {max(ts):>9.1f}')
    ratio = med['c'] / (med['a'] + med['b'])
    target = FEATURE_TARGET if has_feature_losses else LOGIT_TARGET
    kind = 'with feature losses' if has_feature_losses else 'logit losses only'
    verdict = 'PASS' if ratio <= target else 'ABOVE TARGET'
    lines.append(f'ratio c / (a + b) = {ratio:.3f}   target <= {target:.2f} '
                 f'({kind})   {verdict}')
    fastest = stats['c'][1] / (stats['a'][1] + stats['b'][1])
    lines.append(f'ratio of the fastest iterations (less sensitive to '
                 f'machine load): {fastest:.3f}')
    lines.append(f"distillation overhead over the student step: "
                 f"c / a = {med['c'] / med['a']:.2f}x")
    saving = med['d'] - med['b']
    lines.append(
        f"naive teacher (d) = {med['d']:.1f} ms vs teacher on student RoIs "
        f"(b) = {med['b']:.1f} ms: saving {saving:.1f} ms per iteration "
        f"({100 * saving / med['d']:.1f}% of d)")
    method = mem['a'].method
    lines.append(f'peak memory ({method}), one step each after timing:')
    for key in ('a', 'c'):
        m = mem[key]
        lines.append(f'  ({key}) {PHASES[key]:<34} peak {m.peak_mb:>9.1f} MB'
                     f'   increase over start {m.delta_mb:>8.1f} MB')
    return lines


def run_benchmark(args: argparse.Namespace) -> dict:
    """Build the models, time the four phases and measure peak memory.

    Args:
        args (argparse.Namespace): the parsed :func:`parse_args` arguments.

    Returns:
        dict: ``times`` (phase -> per-iteration ms), ``mem`` (``'a'``,
        ``'c'`` -> :class:`~mmkd_det.utils.benchmark.PeakMemory`) and
        ``has_feature_losses``.
    """
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda requested but CUDA is not available')
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
        times = time_interleaved(steps, args.iters, args.warmup, device)
        mem = {key: measure_peak(steps[key], device) for key in ('a', 'c')}
    return dict(times=times, mem=mem, has_feature_losses=has_feature_losses)


def main(argv=None) -> int:
    result = run_benchmark(parse_args(argv))
    print('\n'.join(format_report(**result)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
