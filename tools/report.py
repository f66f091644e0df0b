"""Print (and optionally write) the result table of several training runs.

Example::

    python tools/report.py work_dirs/teacher work_dirs/student work_dirs/kd \\
        work_dirs/luminet --out work_dirs/report

Prints the Markdown table; with ``--out`` also writes ``report.md`` and
``ap_curves.png`` there. See ``mmkd_det/analysis/records.py`` for what is
read and ``mmkd_det/analysis/report.py`` for the format.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout

from mmkd_det.analysis.records import load_run  # noqa: E402
from mmkd_det.analysis.report import run_report, write_report  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Summarise MMEngine work dirs as a LumiNet-style table.')
    parser.add_argument(
        'work_dirs',
        nargs='+',
        metavar='WORK_DIR',
        help='training work dirs, one per method')
    parser.add_argument(
        '--names',
        nargs='+',
        help='method names, one per work dir '
        '(default: the work dirs\' basenames)')
    parser.add_argument(
        '--out',
        help='also write report.md and '
        'ap_curves.png into this folder')
    parser.add_argument(
        '--student',
        default='student',
        help='name of the plain student run (ΔAP baseline)')
    parser.add_argument(
        '--kd', default='kd', help='name of the vanilla KD run (ΔAP baseline)')
    parser.add_argument(
        '--teacher',
        default='teacher',
        help='name of the teacher run (listed first)')
    args = parser.parse_args(argv)
    if args.names is not None and len(args.names) != len(args.work_dirs):
        parser.error(f'--names got {len(args.names)} names for '
                     f'{len(args.work_dirs)} work dirs')
    return args


def main(argv=None):
    args = parse_args(argv)
    names = args.names or [None] * len(args.work_dirs)
    runs = [load_run(d, n) for d, n in zip(args.work_dirs, names)]
    report = run_report(
        runs, student=args.student, kd=args.kd, teacher=args.teacher)
    print(report.table)
    if args.out:
        md_path, png_path = write_report(report, args.out)
        print(f'\nwrote {md_path} and {png_path}')


if __name__ == '__main__':
    main()
