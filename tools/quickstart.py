"""The main job on the embedded default: distil a shapes teacher end to end.

``python tools/quickstart.py [--methods kd luminet ...] [--jobs 2]``

1. generates the synthetic shapes dataset (skipped when already there);
2. trains the teacher, the plain student and one distilled student per
   method, seed 0, each with exactly the per-run configuration of the
   3-seed comparison (``tools/analysis/compare_methods.py``: same configs,
   options and one CPU thread per run), two runs at a time on 2 cores;
   finished runs are kept, so an interrupted quickstart continues;
3. evaluates each with COCO AP on the val split and its D-ECE;
4. prints its numbers beside the committed 3-seed reference
   (``benchmarks/shapes/results.json``, mean ± std) and says where each run
   falls in the reference spread; writes ``WORK_DIR/report.md`` and
   ``WORK_DIR/ap_curves.png``.

Every run is a separate ``tools/train.py`` process; its full log is in its
work dir and the validation lines are echoed here.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, REPO_ROOT)  # this checkout

from mmkd_det.analysis.comparison import TEACHER_SEED  # noqa: E402
from mmkd_det.analysis.comparison_plan import plan_comparison, run_all
from mmkd_det.analysis.comparison_report import write_comparison_report
from mmkd_det.analysis.reference import reference_table
from mmkd_det.analysis.results_store import (RESULTS_FILE, git_commit,
                                             load_records)
from mmkd_det.datasets import SHAPES_DEFAULTS, generate_shapes_dataset
from mmkd_det.utils.cli import add_parallel_run_args, add_shapes_split_args
from mmkd_det.utils.methods import METHODS, leaf_config

PAIR = 'shapes'
DEFAULT_METHODS = ('kd', 'luminet')
REFERENCE = osp.join(REPO_ROOT, 'benchmarks', 'shapes', RESULTS_FILE)
#: Where the distillation configs look for the teacher by default
#: (configs/distill/_base_/pairs/shapes.py).
TEACHER_LINK = osp.join('teacher', 'teacher.pth')


def method_config(method: str) -> str:
    return leaf_config(method, PAIR)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Teacher, student and distilled students on the '
        'synthetic shapes dataset, beside the committed 3-seed reference.')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(DEFAULT_METHODS),
        choices=list(METHODS),
        metavar='METHOD',
        help='distillation methods to run, of '
        f'{", ".join(METHODS)} (mmkd_det/utils/methods.py; default: '
        f'{" ".join(DEFAULT_METHODS)})')
    parser.add_argument(
        '--data-root', default=osp.join(REPO_ROOT, 'data', 'shapes'))
    parser.add_argument(
        '--work-dir', default=osp.join(REPO_ROOT, 'work_dirs', 'quickstart'))
    add_parallel_run_args(
        parser, 2, 'runs at a time (default 2: one per core on 2 cores)')
    parser.add_argument(
        '--reference',
        default=REFERENCE,
        help='results.json of the 3-seed comparison to compare with')
    add_shapes_split_args(parser)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='overrides for every run; the runs then differ from the '
        'reference, and the table says so')
    return parser.parse_args(argv)


def link_teacher(checkpoint: str, work_dir: str) -> str:
    """Copy the teacher where the distillation configs look for it, so
    ``tools/train.py configs/distill/<method>/<method>_shapes.py`` works
    after the quickstart without ``model.teacher.checkpoint``."""
    target = osp.join(work_dir, TEACHER_LINK)
    os.makedirs(osp.dirname(target), exist_ok=True)
    shutil.copyfile(checkpoint, target)
    return target


def main(argv=None, run_command=None) -> int:
    """Runs the quickstart; ``run_command`` replaces the process runner
    (tests). Returns 0 when every run finished, 1 otherwise."""
    args = parse_args(argv)
    # absolute: the runs start in the repository root, wherever we are now
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    start = time.time()

    print('=== Dataset', flush=True)
    summary = generate_shapes_dataset(
        args.data_root,
        seed=SHAPES_DEFAULTS.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        skip_existing=True)
    print(
        f"    {args.data_root}: {summary['train']['num_images']} train / "
        f"{summary['val']['num_images']} val images" +
        (' (already there)' if summary.get('skipped') else
         f" (generated in {summary['seconds']:.0f} s)"),
        flush=True)

    teacher, runs = plan_comparison(['teacher', 'student'] + args.methods,
                                    [TEACHER_SEED], 'val', args.work_dir,
                                    args.data_root, args.cfg_options)
    print(
        f'=== Training {1 + len(runs)} runs, {args.jobs} at a time '
        f'(about 15 minutes on 2 cores for the default methods); logs in '
        f'{args.work_dir}/val/<run>/seed0/',
        flush=True)
    records, failures = run_all(
        teacher,
        runs,
        args.work_dir,
        git_commit(REPO_ROOT, exclude=[args.work_dir]),
        jobs=args.jobs,
        cores=args.cores,
        **({} if run_command is None else dict(run_command=run_command)),
        log=lambda line: print(
            f'[{time.time() - start:5.0f} s] {line}', flush=True))
    link_teacher(teacher.checkpoint, args.work_dir)
    md, png = write_comparison_report(records, args.work_dir, 'val')

    reference = load_records(args.reference)
    print(f'\n=== Your runs beside the reference ({args.reference}: '
          f'{len({r["seed"] for r in reference if r["split"] == "val"})} '
          'seeds)\n')
    print(reference_table(records, reference))
    print(f'\nFull report: {md} and {png}; {time.time() - start:.0f} s in '
          'total.')
    for spec, error in failures:
        print(f'\nFAILED {spec.name}: {error}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
