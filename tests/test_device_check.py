"""tools/gpu/device_check.sh --dry-run and the wheelhouse check, on CPU.

The wheelhouse itself (``make gpu-wheelhouse``, git-ignored) is not built
for the tests: they check a stand-in of empty wheel files built from the
expected list, and the real one only where it exists.
"""
import json
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO_ROOT, load_tool

SCRIPT = osp.join(REPO_ROOT, 'tools', 'gpu', 'device_check.sh')
REAL = osp.join(REPO_ROOT, 'wheelhouse', 'gpu')


@pytest.fixture(scope='module')
def tools():
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'gpu'))
    try:
        yield load_tool('gpu/wheelhouse.py'), load_tool('gpu/device_check.py')
    finally:
        sys.path.remove(osp.join(REPO_ROOT, 'tools', 'gpu'))


def fake_wheelhouse(wheelhouse, dest):
    """One minimal wheel per expected project, pinned, no requirements."""
    dest.mkdir()
    for project in wheelhouse.expected_projects():
        name = (
            wheelhouse.MMCV if project == 'mmcv' else
            f'{project.replace("-", "_")}-{wheelhouse.PINNED[project]}'
            '-py3-none-any.whl')
        with zipfile.ZipFile(dest / name, 'w') as whl:
            whl.writestr(f'{project}.dist-info/METADATA',
                         f'Metadata-Version: 2.1\nName: {project}\n')
    return str(dest)


def dry_run(out, *extra):
    proc = subprocess.run(
        ['bash', SCRIPT, '--dry-run', '--out',
         str(out), *extra],
        capture_output=True,
        text=True,
        timeout=120)
    record = json.loads((out / 'device_check.json').read_text())
    return proc, record


def test_dry_run_plans_every_step(tools, tmp_path):
    wheelhouse, device_check = tools
    house = fake_wheelhouse(wheelhouse, tmp_path / 'wheels')
    proc, record = dry_run(tmp_path / 'out', '--wheelhouse', house)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert device_check.check_record(record) == []
    assert record['mode'] == 'dry-run' and record['budget_s'] == 480
    assert record['wheelhouse']['status'] == 'ok'
    steps = {s['name']: s for s in record['steps']}
    assert list(steps) == [
        'machine', 'install', 'import', 'pytest_cuda', 'benchmark',
        'nccl_2proc'
    ]
    assert all(s['status'] == 'planned' for s in steps.values())
    # each step's timeout is below the whole budget
    assert all(0 < s['timeout_s'] < 480 for s in steps.values())
    install = steps['install']['cmd']
    assert {'--no-index', '--no-deps', '--target'} <= set(install)
    assert sum(c.endswith('.whl') for c in install) == 19
    assert steps['pytest_cuda']['cmd'][3:6] == ['tests', '-m', 'cuda']
    bench = steps['benchmark']['cmd']
    assert 'configs/distill/kd/kd_r101-r18_fpn_coco.py' in bench
    assert bench[bench.index('--size') + 1] == '800x1333'
    assert '--random-teacher' in bench and 'fp16' in bench
    log = (tmp_path / 'out' / 'device_check.log').read_text()
    assert log.count('\n') == 6


def test_dry_run_without_wheelhouse_lists_the_expected_wheels(tmp_path):
    proc, record = dry_run(tmp_path / 'out', '--wheelhouse',
                           str(tmp_path / 'none'))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    house = record['wheelhouse']
    assert house['status'] == 'absent'
    assert 'mmcv' in house['expected'] and 'mmdet' in house['expected']
    assert 'run `make gpu-wheelhouse`' in proc.stdout


def test_broken_wheelhouse_fails_the_dry_run(tools, tmp_path):
    wheelhouse, _ = tools
    house = fake_wheelhouse(wheelhouse, tmp_path / 'wheels')
    (tmp_path / 'wheels' / wheelhouse.MMCV).unlink()
    shutil.copy(
        next((tmp_path / 'wheels').glob('mmdet-*')),
        tmp_path / 'wheels' / 'torch-2.11.0-cp312-cp312-linux_x86_64.whl')
    with zipfile.ZipFile(next((tmp_path / 'wheels').glob('rich-*')),
                         'a') as whl:
        whl.writestr(
            'rich.dist-info/METADATA', 'Metadata-Version: 2.1\nName: rich\n'
            'Requires-Dist: colorama; sys_platform == "win32"\n'
            'Requires-Dist: wcwidth\n')
    proc, record = dry_run(tmp_path / 'out', '--wheelhouse', house)
    assert proc.returncode == 1
    problems = record['wheelhouse']['problems']
    assert 'missing: mmcv' in problems
    assert 'unexpected: torch-2.11.0-cp312-cp312-linux_x86_64.whl' in problems
    # the Windows-only requirement does not count, the other one does
    assert any(p.endswith('requires wcwidth, absent') for p in problems)
    assert not any('colorama' in p for p in problems)


def test_check_record_names_schema_problems(tools):
    _, device_check = tools
    assert 'missing key steps' in device_check.check_record({})
    record = dict(
        schema=device_check.SCHEMA_VERSION,
        mode='run',
        started='',
        total_s=1.0,
        budget_s=480,
        machine={},
        wheelhouse={},
        tests=None,
        benchmark=None,
        nccl_2proc={},
        steps=[
            dict(
                name='x',
                cmd=[],
                timeout_s=1,
                status='done',
                rc=None,
                seconds=None,
                reason='')
        ])
    assert device_check.check_record(record) == ["steps[0].status 'done'"]


@pytest.mark.skipif(
    not osp.isdir(REAL),
    reason='no wheelhouse/gpu here '
    '(make gpu-wheelhouse builds it)')
def test_built_wheelhouse_is_complete(tools):
    wheelhouse, _ = tools
    assert wheelhouse.check(REAL) == []
