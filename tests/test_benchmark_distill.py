"""tools/analysis/benchmark_distill.py: timing helpers and a tiny CPU run."""
import importlib.util
import os
import os.path as osp
import re
import subprocess
import sys
import time

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_distill.py')
LUMINET = osp.join(REPO_ROOT, 'configs', 'distill', 'luminet',
                   'luminet_shapes.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_distill', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return _load_tool()


def test_time_fn_measures_sleep(tool):
    calls = []

    def sleep_5ms():
        calls.append(1)
        time.sleep(0.005)

    median_ms = tool.time_fn(sleep_5ms, iters=3, warmup=1, device='cpu')
    assert len(calls) == 4
    assert 5.0 <= median_ms < 1000.0


def test_time_interleaved_round_robin(tool):
    order = []
    fns = {'x': lambda: order.append('x'), 'y': lambda: order.append('y')}
    times = tool.time_interleaved(fns, iters=2, warmup=1, device='cpu')
    assert order == ['x', 'y'] * 3
    assert set(times) == {'x', 'y'}
    assert all(len(ts) == 2 and min(ts) >= 0 for ts in times.values())
    with pytest.raises(ValueError):
        tool.time_interleaved(fns, iters=0, warmup=0)


def test_peak_memory_sees_allocation(tool):
    import torch

    def allocate():
        x = torch.ones(16 * 2**20 // 4)  # 16 MB, touched
        return float(x.sum())

    mem = tool.measure_peak(allocate, 'cpu')
    assert mem.method
    assert mem.peak_mb >= mem.start_mb
    if 'VmHWM' in mem.method:  # exact high-water mark (not sampled)
        assert mem.delta_mb >= 8


def test_parse_size(tool):
    assert tool.parse_size('64x96') == (64, 96)
    assert tool.parse_size('128') == (128, 128)


def test_benchmark_runs_tiny(tmp_path):
    # one intra-op thread: the machine is shared, and it steadies the timings
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.run(
        [sys.executable, SCRIPT, LUMINET, '--random-teacher', '--batch', '1',
         '--size', '64x64', '--iters', '2', '--warmup', '1'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert 'random weights' in out
    for key in 'abcd':
        assert re.search(rf'^\({key}\) .+?\s\d+\.\d+\s', out, re.M), out
    ratio = re.search(r'ratio c / \(a \+ b\) = (\d+\.\d+)', out)
    assert ratio and float(ratio.group(1)) > 0, out
    assert re.search(r'(PASS|ABOVE TARGET)$', out, re.M), out
    assert re.search(r'naive teacher \(d\) = \d+\.\d+ ms .* saving', out), out
    assert re.search(r'\(a\) student-only .* peak\s+\d+\.\d+ MB', out), out
    assert re.search(r'\(c\) distillation .* peak\s+\d+\.\d+ MB', out), out
