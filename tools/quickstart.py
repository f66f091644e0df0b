"""The main job on the embedded default: distil the digits teacher.

``python tools/quickstart.py [--methods kd luminet ...] [--jobs 2]``

1. generates the handwritten digits dataset (skipped when already there);
2. trains the plain student and one distilled student per method, seed 0,
   taught by the teacher the repository ships
   (``checkpoints/digits/``; ``--train-teacher`` trains one first), each
   with exactly the per-run configuration of the 3-seed comparison
   (``tools/analysis/compare_methods.py``: same configs, options and one CPU
   thread per run), two runs at a time on 2 cores; finished runs are kept,
   so an interrupted quickstart continues;
3. evaluates each with COCO AP on the val split and its D-ECE;
4. prints its numbers beside the committed 3-seed reference
   (``benchmarks/digits/results.json``, mean ± std) and says where each run
   falls in the reference spread; writes ``WORK_DIR/report.md`` and
   ``WORK_DIR/ap_curves.png``.

Every run is a separate ``tools/train.py`` process; its full log is in its
work dir and one line per validation is printed here.
"""
import argparse
import os.path as osp
import sys
import time
import warnings
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[1])
# mmengine 0.10 imports pkg_resources, which warns at every config load;
# setup.py pins setuptools<81 on purpose, so the warning tells a user
# nothing (the runs' own logs keep it)
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
sys.path.insert(0, REPO_ROOT)  # this checkout

from mmkd_det.analysis.comparison import TEACHER_SEED  # noqa: E402
from mmkd_det.analysis.comparison import pair_dataset
from mmkd_det.analysis.comparison_plan import plan_comparison, run_all
from mmkd_det.analysis.comparison_report import (comparison_report,
                                                 reference_table)
from mmkd_det.analysis.comparison_runs import print_line
from mmkd_det.analysis.records import RESULTS_FILE, load_records
from mmkd_det.analysis.report import write_report
from mmkd_det.utils.cli import add_parallel_run_args
from mmkd_det.utils.methods import METHODS, leaf_config, shipped_teacher

PAIR = 'digits'
DEFAULT_METHODS = ('kd', 'luminet')
DATASET = pair_dataset(PAIR)
REFERENCE = osp.join(DATASET.reference(), RESULTS_FILE)


def method_config(method: str) -> str:
    return leaf_config(method, PAIR)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='The plain student and distilled students of the '
        'shipped teacher on the handwritten digits dataset, beside the '
        'committed 3-seed reference.')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(DEFAULT_METHODS),
        choices=list(METHODS),
        metavar='METHOD',
        help='distillation methods to run, of '
        f'{", ".join(METHODS)} (mmkd_det/utils/methods.py; default: '
        f'{" ".join(DEFAULT_METHODS)})')
    parser.add_argument('--data-root', default=DATASET.root())
    parser.add_argument(
        '--work-dir', default=osp.join(REPO_ROOT, 'work_dirs', 'quickstart'))
    add_parallel_run_args(
        parser, 2, 'runs at a time (default 2: one per core on 2 cores)')
    parser.add_argument(
        '--reference',
        default=REFERENCE,
        help='results.json of the 3-seed comparison to compare with')
    for split in ('train', 'val'):
        default = DATASET.spec.defaults()[f'num_{split}']
        parser.add_argument(
            f'--num-{split}',
            type=int,
            default=default,
            help=f'{split} images (default {default}: the reference\'s; '
            'another count makes a dataset the reference does not belong '
            'to)')
    parser.add_argument(
        '--train-teacher',
        action='store_true',
        help='train the teacher (seed 0) instead of using the shipped one')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='overrides for every run; the runs then differ from the '
        'reference, and the table says so')
    return parser.parse_args(argv)


def main(argv=None, run_command=None) -> int:
    """Runs the quickstart; ``run_command`` replaces the process runner
    (tests). Returns 0 when every run finished, 1 otherwise."""
    args = parse_args(argv)
    # absolute: the runs start in the repository root, wherever we are now
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    start = time.time()

    print('=== Dataset', flush=True)
    summary = DATASET.generate(
        args.data_root,
        skip_existing=True,
        num_train=args.num_train,
        num_val=args.num_val)
    print(
        f"    {args.data_root}: {summary['train']['num_images']} train / "
        f"{summary['val']['num_images']} val images" +
        (' (already there)' if summary.get('skipped') else
         f" (generated in {summary['seconds']:.0f} s)"),
        flush=True)

    teacher_checkpoint = None if args.train_teacher else shipped_teacher(PAIR)
    if teacher_checkpoint is not None and not osp.isfile(teacher_checkpoint):
        raise SystemExit(
            f'The shipped teacher {teacher_checkpoint} is missing: restore '
            'it (git checkout -- checkpoints), retrain it with `make '
            'teacher`, or pass --train-teacher.')
    teacher, runs = plan_comparison(['student'] + args.methods, [TEACHER_SEED],
                                    'val', args.work_dir, args.data_root,
                                    args.cfg_options, teacher_checkpoint, PAIR)
    print(
        f'=== Training {len(runs) + bool(teacher)} runs, {args.jobs} at a '
        'time; logs in '
        f'{args.work_dir}/val/<run>/seed0/',
        flush=True)
    records, failures = run_all(
        teacher,
        runs,
        args.work_dir,
        jobs=args.jobs,
        cores=args.cores,
        run_command=run_command,
        log=lambda line: print_line(f'[{time.time() - start:5.0f} s] {line}'))
    md, png = write_report(comparison_report(records, 'val'), args.work_dir)

    reference = load_records(args.reference)
    print(f'\n=== Your runs beside the reference ({args.reference}: '
          f'{len({r["seed"] for r in reference if r["split"] == "val"})} '
          'seeds)\n')
    if not reference:
        print(f'No committed reference in {args.reference} yet: '
              '`make benchmark` measures it.\n')
    print(reference_table(records, reference))
    print(f'\nFull report: {md} and {png}; {time.time() - start:.0f} s in '
          'total.')
    for spec, error in failures:
        print(f'\nFAILED {spec.name}: {error}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
