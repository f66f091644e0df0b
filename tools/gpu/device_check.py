"""Measure the GPU path in one call on a bare, offline GPU machine.

``bash tools/gpu/device_check.sh [--dry-run] [--out DIR]``

Steps, each with its own timeout inside one budget of :data:`BUDGET_S`
(8 minutes): report the machine; install the carried wheelhouse
(``wheelhouse/gpu``, ``make gpu-wheelhouse``) into a private folder;
import mmcv's CUDA ops; run ``pytest -m cuda``; run the COCO-size
benchmark (R101 -> R18, random teacher, 800x1333, teacher fp32/fp16/bf16);
a 2-process NCCL check when there are 2 GPUs. It writes ``device_check.json``
(:data:`SCHEMA`, checked by :func:`check_record`) and ``device_check.log``
under ``--out`` (default ``$OUT``).

``--dry-run`` (CPU, CI) runs nothing: it checks the wheelhouse (or lists the
expected wheels when it is absent), records the commands it would run and
writes and checks the JSON.

Standard library only (plus ``wheelhouse.py``): nothing is installed yet.
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time
from typing import List, Optional

import wheelhouse

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BUDGET_S = 480
SCHEMA_VERSION = 'mmkd_det.device_check/1'
#: key -> type of the JSON record (``steps[*]``: :data:`STEP_SCHEMA`)
SCHEMA = {
    'schema': str,  # SCHEMA_VERSION
    'mode': str,  # 'run' or 'dry-run'
    'started': str,  # ISO 8601, UTC
    'total_s': float,
    'budget_s': int,
    'machine': dict,  # python, gpu names, torch, cuda (None in a dry run)
    'wheelhouse': dict,  # path, status ok|absent|broken, files, MiB, problems
    'steps': list,
    'tests': (dict, type(None)),  # pytest's outcome counts, None if not run
    'benchmark': (dict, type(None)),  # benchmark_distill.py --json output
    'nccl_2proc': dict,  # status ok|failed|skipped, reason
}
STEP_SCHEMA = {
    'name': str,
    'cmd': list,
    'timeout_s': int,
    'status': str,  # planned|ok|failed|timeout|skipped
    'rc': (int, type(None)),
    'seconds': (float, type(None)),
    'reason': str,
}
STEP_STATUSES = {'planned', 'ok', 'failed', 'timeout', 'skipped'}
BENCHMARK_CONFIG = 'configs/distill/kd/kd_r101-r18_fpn_coco.py'


def plan(py: str, site: str, out: str, wheel_dir: str) -> List[dict]:
    """The steps in order: name, command, timeout (s); all run from the
    repository root with ``PYTHONPATH=site:repo``."""
    pytest_xml = osp.join(out, 'pytest.xml')
    return [
        dict(
            name='machine',
            cmd=[
                py, '-c', 'import json, torch; print(json.dumps(dict('
                'torch=torch.__version__, cuda=torch.version.cuda, '
                'gpus=[torch.cuda.get_device_name(i) for i in '
                'range(torch.cuda.device_count())])))'
            ],
            timeout_s=60),
        dict(
            name='install',
            cmd=[
                py, '-m', 'pip', 'install', '--no-index', '--no-deps',
                '--disable-pip-version-check', '--target', site, *sorted(
                    osp.join(wheel_dir, w) for w in _wheel_names(wheel_dir))
            ],
            timeout_s=120),
        dict(
            name='import',
            cmd=[
                py, '-c', 'import torch, mmcv, mmdet, mmengine, '
                'pycocotools, pytest; from mmcv.ops import nms; '
                'b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10]]).cuda(); '
                'print(mmcv.__version__, mmdet.__version__, '
                'nms(b, torch.tensor([.9, .8]).cuda(), .5)[1].tolist())'
            ],
            timeout_s=60),
        dict(
            name='pytest_cuda',
            cmd=[
                py, '-m', 'pytest', 'tests', '-m', 'cuda', '-q', '-rs', '-p',
                'no:cacheprovider', f'--junitxml={pytest_xml}'
            ],
            timeout_s=240),
        dict(
            name='benchmark',
            cmd=[
                py, 'tools/analysis/benchmark_distill.py', BENCHMARK_CONFIG,
                '--random-teacher', '--device', 'cuda', '--batch', '2',
                '--size', '800x1333', '--iters', '10', '--warmup', '3',
                '--teacher-precision', 'fp32', 'fp16', 'bf16', '--json',
                osp.join(out, 'benchmark.json')
            ],
            timeout_s=150),
        dict(
            name='nccl_2proc',
            cmd=[py, osp.join('tools', 'gpu', 'nccl_check.py')],
            timeout_s=60),
    ]


def _wheel_names(wheel_dir: str) -> List[str]:
    if osp.isdir(wheel_dir):
        return list(wheelhouse.wheels(wheel_dir).values())
    # absent (a dry run in CI): the expected projects stand in
    return [f'<{p}>.whl' for p in wheelhouse.expected_projects()]


def wheelhouse_record(wheel_dir: str) -> dict:
    if not osp.isdir(wheel_dir):
        return dict(
            path=wheel_dir,
            status='absent',
            files=[],
            mib=0.0,
            expected=wheelhouse.expected_projects(),
            problems=[f'{wheel_dir} absent: run `make gpu-wheelhouse`'])
    problems = wheelhouse.check(wheel_dir)
    return dict(
        path=wheel_dir,
        status='broken' if problems else 'ok',
        files=sorted(wheelhouse.wheels(wheel_dir).values()),
        mib=round(wheelhouse.total_bytes(wheel_dir) / 2**20, 1),
        expected=wheelhouse.expected_projects(),
        problems=problems)


def check_record(record: dict) -> List[str]:
    """Schema problems of a record (an empty list: it conforms)."""
    problems = [f'missing key {k}' for k in SCHEMA if k not in record]
    problems += [
        f'{k}: {type(record[k]).__name__} is not {t}'
        for k, t in SCHEMA.items()
        if k in record and not isinstance(record[k], t)
    ]
    if record.get('schema') != SCHEMA_VERSION:
        problems.append(f'schema is not {SCHEMA_VERSION}')
    for i, step in enumerate(record.get('steps') or []):
        problems += [
            f'steps[{i}]: missing {k}' for k in STEP_SCHEMA if k not in step
        ]
        problems += [
            f'steps[{i}].{k}: {type(step[k]).__name__} is not {t}'
            for k, t in STEP_SCHEMA.items()
            if k in step and not isinstance(step[k], t)
        ]
        if step.get('status') not in STEP_STATUSES:
            problems.append(f'steps[{i}].status {step.get("status")!r}')
    return problems


def run_step(step: dict, env: dict, deadline: float, log) -> dict:
    """Run one step within its timeout and the overall deadline."""
    timeout = int(min(step['timeout_s'], deadline - time.monotonic()))
    if timeout < 5:
        return _not_run(step, 'skipped', 'no time left in the budget')
    log.write(f'\n=== {step["name"]} (timeout {timeout} s): '
              f'{" ".join(step["cmd"])}\n')
    log.flush()
    start = time.monotonic()
    try:
        proc = subprocess.run(
            step['cmd'],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout)
        rc, status = proc.returncode, 'ok' if proc.returncode == 0 \
            else 'failed'
    except subprocess.TimeoutExpired:
        rc, status = None, 'timeout'
    seconds = round(time.monotonic() - start, 1)
    log.write(f'=== {step["name"]}: {status} in {seconds} s\n')
    return dict(step, status=status, rc=rc, seconds=seconds, reason='')


def pytest_counts(xml_path: str) -> Optional[dict]:
    """tests/failures/errors/skipped of a JUnit XML report, if written."""
    if not osp.isfile(xml_path):
        return None
    with open(xml_path) as f:
        head = f.read(4000)
    m = re.search(r'<testsuite [^>]*>', head)
    if m is None:
        return None
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(0)))
    return {
        k: int(attrs[k])
        for k in ('tests', 'failures', 'errors', 'skipped') if k in attrs
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dry-run', action='store_true')
    parser.add_argument('--out', default=os.environ.get('OUT'))
    parser.add_argument(
        '--wheelhouse', default=osp.join(REPO, 'wheelhouse', 'gpu'))
    args = parser.parse_args(argv)
    if not args.out:
        parser.error('give --out DIR or set $OUT')
    os.makedirs(args.out, exist_ok=True)
    start, deadline = time.monotonic(), time.monotonic() + BUDGET_S
    site = osp.join(args.out if args.dry_run else '/tmp', 'mmkd_det_site')
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([site, REPO]),
        # deterministic cuBLAS for the resume test (set before CUDA starts)
        CUBLAS_WORKSPACE_CONFIG=':4096:8',
        OMP_NUM_THREADS='4',
        PYTHONWARNINGS='ignore')
    record = dict(
        schema=SCHEMA_VERSION,
        mode='dry-run' if args.dry_run else 'run',
        started=datetime.datetime.now(
            datetime.timezone.utc).isoformat(timespec='seconds'),
        budget_s=BUDGET_S,
        machine=dict(python=platform.python_version()),
        wheelhouse=wheelhouse_record(args.wheelhouse),
        tests=None,
        benchmark=None,
        nccl_2proc=dict(status='skipped', reason='not run'))
    steps = plan(sys.executable, site, args.out, args.wheelhouse)
    with open(osp.join(args.out, 'device_check.log'), 'w') as log:
        if args.dry_run:
            done = [_not_run(s, 'planned', 'dry run') for s in steps]
            for step in done:
                log.write(f'{step["name"]} ({step["timeout_s"]} s): '
                          f'{" ".join(step["cmd"])}\n')
        else:
            done = _run_all(steps, env, deadline, log, record)
    record['steps'] = done
    record['total_s'] = round(time.monotonic() - start, 1)
    problems = check_record(record)
    with open(osp.join(args.out, 'device_check.json'), 'w') as f:
        json.dump(record, f, indent=2)
    for line in problems + record['wheelhouse']['problems']:
        print(f'PROBLEM: {line}')
    print(f'wrote {osp.join(args.out, "device_check.json")} '
          f'({record["mode"]}, {record["total_s"]} s)')
    broken = record['wheelhouse']['status'] == 'broken' or problems
    failed = any(s['status'] in ('failed', 'timeout') for s in done)
    return 1 if broken or failed else 0


def _not_run(step: dict, status: str, reason: str) -> dict:
    """The record of a step that did not run, and why."""
    return dict(step, status=status, rc=None, seconds=None, reason=reason)


def _run_all(steps: List[dict], env: dict, deadline: float, log,
             record: dict) -> List[dict]:
    """Run the steps; fill the record's machine, tests, benchmark, NCCL."""
    done = []
    if record['wheelhouse']['status'] != 'ok':
        return [_not_run(s, 'skipped', 'wheelhouse not ok') for s in steps]
    for step in steps:
        if step['name'] == 'nccl_2proc' and len(record['machine'].get(
                'gpus', [])) < 2:
            done.append(
                _not_run(
                    step, 'skipped', 'one GPU: a 2-process NCCL group needs '
                    'two (pytest -m cuda ran NCCL at world size 1)'))
            continue
        needs_install = step['name'] not in ('machine', 'install')
        if needs_install and any(
                s['name'] in ('install', 'import') and s['status'] != 'ok'
                for s in done):
            done.append(_not_run(step, 'skipped', 'install or import failed'))
            continue
        result = run_step(step, env, deadline, log)
        done.append(result)
        if step['name'] == 'machine' and result['status'] == 'ok':
            record['machine'].update(_last_json_line(log.name))
    out = osp.dirname(log.name)
    record['tests'] = pytest_counts(osp.join(out, 'pytest.xml'))
    bench = osp.join(out, 'benchmark.json')
    if osp.isfile(bench):
        with open(bench) as f:
            record['benchmark'] = json.load(f)
    nccl = next(s for s in done if s['name'] == 'nccl_2proc')
    record['nccl_2proc'] = dict(status=nccl['status'], reason=nccl['reason'])
    return done


def _last_json_line(path: str) -> dict:
    """The last line of the log that parses as a JSON object."""
    with open(path) as f:
        for line in reversed(f.read().splitlines()):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return {}


if __name__ == '__main__':
    sys.exit(main())
