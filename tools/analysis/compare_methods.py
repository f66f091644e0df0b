"""Compare distillation methods over seeds, or tune them on the tune split.

Comparison (every method, 3 seeds, on val)::

    python tools/analysis/compare_methods.py --seeds 0 1 2

Tuning grid of the logit methods (one seed, on the tune split only)::

    python tools/analysis/compare_methods.py --tune

The methods and the teacher/student pairs come from the registry
(``mmkd_det/utils/methods.py``); ``--pair`` picks a pair on an embedded
dataset (default ``digits``; its dataset gives the default data root and
output folder, ``benchmarks/<dataset>``; a pair not named like its dataset
gets ``benchmarks/<dataset>/<pair>`` and its own work dir). Distillation
runs use the teacher the repository ships for the pair
(``checkpoints/``); ``--train-teacher`` trains one instead (seed 0).

Each run is one ``tools/train.py`` process in
``<work-dir>/<split>/<method>/seed<k>/`` (D-ECE comes from its own
validations, ``CocoMetricWithDECE``). Finished runs (marker ``result.json``
for the same final config) are skipped, interrupted ones restart from
scratch, so a stopped comparison continues where it stopped. Records go
into ``<out>/results.json`` after every run; ``<out>/report.md`` and
``<out>/ap_curves.png`` (comparison: every finished run of the current
configs in ``results.json``, not only this call's ``--methods`` and
``--seeds``) or ``<out>/tune_<method>.md`` (tuning) are written at the end.
``--readme FILE`` also puts the report's table into FILE.
``--dry-run`` lists the runs and their state.
"""
import argparse
import os.path as osp
import sys
import warnings
from pathlib import Path
from typing import List

# mmengine 0.10 imports pkg_resources, which warns at every config load;
# setup.py pins setuptools<81 on purpose, so the warning tells a user
# nothing (the runs' own logs keep it)
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout

from mmkd_det.analysis.comparison import METHODS  # noqa: E402
from mmkd_det.analysis.comparison import (BASELINES, DEFAULT_PAIR, PAIRS,
                                          REPO_ROOT, SPLITS, check_split,
                                          finished_record, pair_dataset,
                                          run_status)
from mmkd_det.analysis.comparison_plan import plan_comparison  # noqa: E402
from mmkd_det.analysis.comparison_plan import plan_tune, run_all
from mmkd_det.analysis.comparison_report import TABLE_MARKER  # noqa: E402
from mmkd_det.analysis.comparison_report import (comparison_report,
                                                 paste_table,
                                                 render_tune_table)
from mmkd_det.analysis.records import RESULTS_FILE  # noqa: E402
from mmkd_det.analysis.records import records_by_hash
from mmkd_det.analysis.report import write_report  # noqa: E402
from mmkd_det.analysis.tune_grid import DEFAULT_TUNE_METHODS  # noqa: E402
from mmkd_det.analysis.tune_grid import TUNE_GRIDS  # noqa: E402
from mmkd_det.utils.cli import add_parallel_run_args  # noqa: E402
from mmkd_det.utils.methods import shipped_teacher  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train the teacher, the plain student and distilled '
        'students over seeds; write results.json and a mean ± std report.')
    parser.add_argument(
        '--methods',
        nargs='+',
        choices=BASELINES + METHODS,
        help='methods to run (default: all; with --tune: '
        f'{" ".join(DEFAULT_TUNE_METHODS)}). The plain student is added '
        'whenever a distillation method runs.')
    parser.add_argument(
        '--seeds',
        nargs='+',
        type=int,
        default=[0, 1, 2],
        help='training seeds (--tune uses the first)')
    parser.add_argument(
        '--pair',
        choices=PAIRS,
        default=DEFAULT_PAIR,
        help='registered teacher/student pair (mmkd_det/utils/methods.py) '
        f'on an embedded dataset (default: {DEFAULT_PAIR})')
    parser.add_argument(
        '--split',
        choices=SPLITS,
        help='validation split (default: val; --tune: tune)')
    parser.add_argument(
        '--tune',
        action='store_true',
        help='run the tuning grid of the logit methods on '
        'the tune split')
    parser.add_argument(
        '--data-root',
        help="dataset root (default: the pair's dataset's, "
        'e.g. data/digits)')
    parser.add_argument(
        '--custom-data',
        action='store_true',
        help='accept a dataset generated with other arguments than '
        "the generator's defaults (the committed settings and reference "
        'belong to the defaults; without this flag such a dataset is an '
        'error)')
    parser.add_argument(
        '--work-dir',
        help='root of the run folders (default: work_dirs/compare, '
        'work_dirs/compare_<pair> for another --pair)')
    parser.add_argument(
        '--out',
        help='folder of results.json and the reports (default: '
        'benchmarks/<dataset>, benchmarks/<dataset>/<pair> for a pair not '
        'named like its dataset)')
    teacher = parser.add_mutually_exclusive_group()
    teacher.add_argument(
        '--teacher-checkpoint',
        help="use this teacher (default: the pair's shipped teacher)")
    teacher.add_argument(
        '--train-teacher',
        action='store_true',
        help='train the teacher (seed 0) instead of using the shipped one')
    add_parallel_run_args(parser, 1,
                          'runs at a time, each with cores/jobs threads')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='config overrides for every run, e.g. '
        'train_cfg.max_iters=100')
    parser.add_argument(
        '--readme',
        metavar='FILE',
        help='also put the report\'s table into FILE, after its line '
        f'"{TABLE_MARKER}" (e.g. README.md for the default benchmark)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='list the runs and which are done; run nothing')
    args = parser.parse_args(argv)
    if args.readme and args.tune:
        parser.error('--readme takes the comparison table; --tune writes '
                     'tune_<method>.md')
    if args.readme:
        try:
            with open(args.readme, encoding='utf-8') as f:
                paste_table(f.read(), '')
        except (OSError, ValueError) as err:
            parser.error(f'--readme {args.readme}: {err}')
    if args.tune and args.split == 'val':
        parser.error('--tune chooses settings, which never looks at val: '
                     'drop --split val')
    args.split = 'tune' if args.tune else (args.split or 'val')
    if args.methods is None:
        args.methods = list(DEFAULT_TUNE_METHODS if args.tune else BASELINES +
                            METHODS)
    if args.tune:
        untunable = [m for m in args.methods if m not in TUNE_GRIDS]
        if untunable:
            parser.error(f'--tune has no grid for {untunable}; logit '
                         f'methods: {sorted(TUNE_GRIDS)}')
    dataset = pair_dataset(args.pair)
    other_pair = args.pair != dataset.name
    if args.work_dir is None:
        args.work_dir = osp.join(
            REPO_ROOT, 'work_dirs',
            'compare' if args.pair == DEFAULT_PAIR else f'compare_{args.pair}')
    if args.out is None:
        args.out = osp.join(dataset.reference(),
                            *([args.pair] if other_pair else []))
    if args.data_root is None:
        args.data_root = dataset.root()
    if args.teacher_checkpoint is None and not args.train_teacher:
        args.teacher_checkpoint = shipped_teacher(args.pair)
    for name in ('data_root', 'work_dir', 'out'):
        setattr(args, name, osp.abspath(getattr(args, name)))
    if args.teacher_checkpoint:
        args.teacher_checkpoint = osp.abspath(args.teacher_checkpoint)
    return args


def comparison_records(args: argparse.Namespace) -> List[dict]:
    """Every finished run of today's configs on ``args.split``: all methods,
    every seed on record or asked for.

    The report is the whole comparison's, whichever ``--methods`` and
    ``--seeds`` subset this call ran (a comparison is run in pieces). A
    record whose config has changed since (another setting, another
    teacher) is not today's run and is left out.
    """
    committed = records_by_hash(osp.join(args.out, RESULTS_FILE))
    seeds = set(args.seeds) | {
        r['seed']
        for r in committed.values() if r['split'] == args.split
    }
    teacher, runs = plan_comparison(BASELINES + METHODS, sorted(seeds),
                                    args.split, args.work_dir, args.data_root,
                                    args.cfg_options, args.teacher_checkpoint,
                                    args.pair)
    found = (
        finished_record(spec, committed)
        for spec in ([teacher] if teacher else []) + runs)
    return [record for record in found if record is not None]


def main(argv=None, run_command=None) -> int:
    """Runs the CLI; ``run_command`` replaces the process runner (tests).

    Returns:
        0 when every run finished, 1 otherwise.
    """
    args = parse_args(argv)
    try:
        check_split(args.data_root, args.split, args.custom_data, args.pair)
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from err
    if args.tune:
        teacher, runs = plan_tune(args.methods, args.seeds[0], args.work_dir,
                                  args.data_root, args.cfg_options,
                                  args.teacher_checkpoint, args.pair)
    else:
        teacher, runs = plan_comparison(args.methods, args.seeds, args.split,
                                        args.work_dir, args.data_root,
                                        args.cfg_options,
                                        args.teacher_checkpoint, args.pair)
    if args.dry_run:
        committed = records_by_hash(osp.join(args.out, RESULTS_FILE))
        for spec in ([teacher] if teacher else []) + runs:
            print(f'{run_status(spec, committed):8s} {spec.name}')
        return 0

    records, failures = run_all(
        teacher,
        runs,
        args.out,
        jobs=args.jobs,
        cores=args.cores,
        run_command=run_command)
    if args.tune:
        student = next((r for r in records if r['method'] == 'student'), None)
        for method in args.methods:
            table = render_tune_table(method, [
                r for r in records
                if r['method'] == method and r.get('tune_point')
            ], student)
            path = osp.join(args.out, f'tune_{method}.md')
            with open(path, 'w', encoding='utf-8') as f:
                f.write(f'# Tuning grid of {method} (tune split, seed '
                        f'{args.seeds[0]})\n\n{table}\n')
            print(f'\n{method}:\n{table}\nwrote {path}')
    elif records:
        report = comparison_report(comparison_records(args), args.split)
        print('\n' + report.table)
        md, png = write_report(report, args.out)
        print(f'wrote {md} and {png}')
        if args.readme:
            with open(args.readme, encoding='utf-8') as f:
                text = paste_table(f.read(), report.table)
            with open(args.readme, 'w', encoding='utf-8') as f:
                f.write(text)
            print(f'wrote its table into {args.readme}')
    for spec, error in failures:
        print(f'\nFAILED {spec.name}: {error}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
