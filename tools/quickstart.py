"""The main job on the embedded default: distil a shapes teacher end to end.

``python tools/quickstart.py [--methods kd luminet zscore-kd ...]``

1. generates the synthetic shapes dataset (skipped when already there);
2. trains the shapes teacher (reused when already trained with the same
   config, dataset and schedule);
3. trains the plain student and one distilled student per method, all on the
   student's schedule and seed, each evaluated with COCO AP on the val split;
4. measures each model's detection calibration error (D-ECE);
5. prints and writes ``WORK_DIR/report.md`` (the LumiNet paper's Table 3b
   form) and ``WORK_DIR/ap_curves.png``.

Training runs are separate ``tools/train.py`` processes; their full logs are
in each run's work dir, and the progress lines are echoed here.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = str(Path(__file__).resolve().parents[1])
sys.path.insert(0, REPO_ROOT)  # this checkout

from mmkd_det.analysis.report import load_run, write_report  # noqa: E402
from mmkd_det.datasets import SHAPES_DEFAULTS  # noqa: E402
from mmkd_det.datasets import generate_shapes_dataset  # noqa: E402
from mmkd_det.utils.cli import add_shapes_split_args  # noqa: E402
from mmkd_det.utils.methods import leaf_config  # noqa: E402
from mmkd_det.utils.methods import METHODS, student_config, teacher_config

PAIR = 'shapes'
TEACHER_CONFIG = teacher_config(PAIR)
STUDENT_CONFIG = student_config(PAIR)
DEFAULT_METHODS = ('kd', 'luminet', 'zscore-kd')
# lines of the training logs worth echoing as progress
PROGRESS_MARKS = ('Iter(train)', 'coco/bbox_mAP:', 'Traceback', 'Error')


def method_config(method: str) -> str:
    return leaf_config(method, PAIR)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Teacher, student and distilled students on the '
        'synthetic shapes dataset, with a COCO AP report.')
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
    parser.add_argument(
        '--retrain-teacher',
        action='store_true',
        help='train the teacher even if a matching one exists')
    parser.add_argument(
        '--teacher-iters', type=int, help='override the teacher schedule')
    parser.add_argument(
        '--student-iters',
        type=int,
        help='override the schedule of the student and distilled students')
    add_shapes_split_args(parser)
    parser.add_argument(
        '--skip-calibration', action='store_true', help='no D-ECE column')
    return parser.parse_args(argv)


def run_logged(cmd: list, log_path: str, title: str) -> None:
    """Run ``cmd``, echo its progress lines, keep the full output in a file."""
    print(f'\n=== {title}\n$ {" ".join(cmd)}', flush=True)
    start = time.time()
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1)
        tail = []
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line])[-40:]
            if any(mark in line for mark in PROGRESS_MARKS):
                print('  ' + line.rstrip()[:220], flush=True)
        if proc.wait() != 0:
            sys.stdout.write(''.join(tail))
            raise SystemExit(f'{title} failed (exit {proc.returncode}); '
                             f'full log: {log_path}')
    print(f'    done in {time.time() - start:.0f} s', flush=True)


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint'), encoding='utf-8') as f:
        path = f.read().strip()
    return path if osp.isabs(path) else osp.join(work_dir, path)


def train(config: str, work_dir: str, data_root: str, title: str,
          options: list) -> str:
    """Train ``config`` from scratch into ``work_dir``; return the checkpoint.
    """
    # a fresh work dir: the report reads every log found in it
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
        work_dir, '--data-root', data_root
    ]
    if options:
        cmd += ['--cfg-options'] + options
    run_logged(cmd, osp.join(work_dir, 'quickstart_train.log'), title)
    return last_checkpoint(work_dir)


def teacher_key(args, dataset_meta: dict) -> str:
    """What the trained teacher depends on: config text, data, schedule."""
    with open(TEACHER_CONFIG, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return json.dumps(
        dict(config=digest, data=dataset_meta, iters=args.teacher_iters),
        sort_keys=True)


def prepare_teacher(args, dataset_meta: dict) -> str:
    """Train the teacher unless a matching one exists; return the checkpoint.
    """
    teacher_dir = osp.join(args.work_dir, 'teacher')
    checkpoint = osp.join(teacher_dir, 'teacher.pth')
    key_file = osp.join(teacher_dir, 'teacher_key.json')
    key = teacher_key(args, dataset_meta)
    if (not args.retrain_teacher and osp.isfile(checkpoint)
            and osp.isfile(key_file)
            and Path(key_file).read_text(encoding='utf-8') == key):
        print(f'\n=== Teacher: reusing {checkpoint}')
        return checkpoint
    options = ([f'train_cfg.max_iters={args.teacher_iters}']
               if args.teacher_iters else [])
    trained = train(TEACHER_CONFIG, teacher_dir, args.data_root,
                    'Teacher (ResNet-34/32-wide Faster R-CNN FPN)', options)
    shutil.copyfile(trained, checkpoint)
    with open(key_file, 'w', encoding='utf-8') as f:
        f.write(key)
    return checkpoint


def calibrate(config: str, checkpoint: str, work_dir: str,
              data_root: str) -> None:
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'analysis', 'calibration.py'), config,
        checkpoint, '--out-dir', work_dir, '--data-root', data_root
    ]
    run_logged(cmd, osp.join(work_dir, 'quickstart_calibration.log'),
               f'D-ECE of {osp.basename(work_dir)}')


def main():
    args = parse_args()
    # absolute: the runs start in the repository root, wherever we are now
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    start = time.time()
    os.makedirs(args.work_dir, exist_ok=True)

    print('=== Dataset', flush=True)
    summary = generate_shapes_dataset(
        args.data_root,
        seed=SHAPES_DEFAULTS.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        skip_existing=True)
    with open(osp.join(args.data_root, 'meta.json'), encoding='utf-8') as f:
        dataset_meta = json.load(f)
    print(
        f"    {args.data_root}: {summary['train']['num_images']} train / "
        f"{summary['val']['num_images']} val images" +
        (' (already there)' if summary.get('skipped') else
         f" (generated in {summary['seconds']:.0f} s)"),
        flush=True)

    teacher_ckpt = prepare_teacher(args, dataset_meta)
    student_options = ([f'train_cfg.max_iters={args.student_iters}']
                       if args.student_iters else [])
    runs = [('teacher', TEACHER_CONFIG, teacher_ckpt)]
    checkpoint = train(STUDENT_CONFIG, osp.join(args.work_dir,
                                                'student'), args.data_root,
                       'Student (ResNet-18/8-wide)', student_options)
    runs.append(('student', STUDENT_CONFIG, checkpoint))
    for method in args.methods:
        checkpoint = train(
            method_config(method), osp.join(args.work_dir, method),
            args.data_root, f'Distilled student: {method}',
            student_options + [f'model.teacher.checkpoint={teacher_ckpt}'])
        runs.append((method, STUDENT_CONFIG, checkpoint))

    if not args.skip_calibration:
        for name, config, checkpoint in runs:
            # a distillation checkpoint evaluates with the plain student
            calibrate(config, checkpoint, osp.join(args.work_dir, name),
                      args.data_root)

    results = [
        load_run(osp.join(args.work_dir, name), name=name)
        for name, _, _ in runs
    ]
    md_path, png_path = write_report(results, args.work_dir)
    with open(md_path, encoding='utf-8') as f:
        print('\n' + f.read())
    print(f'Wrote {md_path} and {png_path} in {time.time() - start:.0f} s '
          'in total.')


if __name__ == '__main__':
    main()
