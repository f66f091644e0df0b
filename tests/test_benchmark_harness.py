"""mmkd_det.utils.benchmark: the timing and memory harness of the benchmarks.

Timings are checked against a fake clock, so they are exact and need no
sleeping; peak memory against a known allocation, by both CPU methods.
"""
import time

import pytest
import torch

from mmkd_det.utils import benchmark


class FakeClock:
    """``time.perf_counter`` stand-in that advances only when told to."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def work(self, ms: float):
        """A function that 'takes' ``ms`` milliseconds, logging its calls."""
        calls = []

        def fn():
            calls.append(len(calls))
            self.now += ms / 1e3

        fn.calls = calls
        return fn


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(benchmark.time, 'perf_counter', fake)
    return fake


def test_time_once_measures_milliseconds(clock):
    assert benchmark.time_once(clock.work(7.5)) == pytest.approx(7.5)


def test_time_interleaved_round_robin_drops_warmup(clock):
    order = []
    slow, fast = clock.work(5.0), clock.work(2.0)
    fns = {
        'x': lambda: (order.append('x'), slow()),
        'y': lambda: (order.append('y'), fast())
    }
    times = benchmark.time_interleaved(fns, iters=2, warmup=1)
    assert order == ['x', 'y'] * 3  # round robin, warm-up included
    assert list(times) == ['x', 'y']
    assert times['x'] == pytest.approx([5.0, 5.0])
    assert times['y'] == pytest.approx([2.0, 2.0])


def test_time_interleaved_excludes_warmup_times(clock):
    durations = iter([100.0, 3.0, 4.0])  # the first (warm-up) call is slow

    def fn():
        clock.now += next(durations) / 1e3

    times = benchmark.time_interleaved({'f': fn}, iters=2, warmup=1)
    assert times['f'] == pytest.approx([3.0, 4.0])


@pytest.mark.parametrize('iters,warmup', [(0, 0), (1, -1)])
def test_time_interleaved_rejects_bad_counts(iters, warmup):
    with pytest.raises(ValueError, match='iters >= 1 and warmup >= 0'):
        benchmark.time_interleaved({'f': lambda: None}, iters, warmup)


def test_summarize_median_and_minimum():
    stats = benchmark.summarize({'a': [3.0, 1.0, 2.0], 'b': [4.0, 6.0]})
    assert stats == {'a': (2.0, 1.0), 'b': (5.0, 4.0)}


@pytest.mark.parametrize('path', ['high-water mark', 'sampled'])
def test_peak_memory_sees_allocation(path, monkeypatch):
    """Both CPU measurements see a 16 MB block that is freed before the
    region ends: the VmHWM reset of Linux and, where that reset is not
    available, the sampling thread (forced here)."""
    if path == 'sampled':
        monkeypatch.setattr(benchmark, '_reset_hwm', lambda: False)

    def allocate():
        x = torch.ones(16 * 2**20 // 4)  # 16 MB, touched
        # held long enough for the 1 ms sampler, even on a loaded CPU
        time.sleep(0.2)
        total = float(x.sum())
        del x
        benchmark._malloc_trim()  # RSS back down before the region ends
        return total

    mem = benchmark.measure_peak(allocate, 'cpu')
    if path == 'sampled':
        assert 'sampled' in mem.method
    elif 'VmHWM' not in mem.method:
        pytest.skip('no /proc/self/clear_refs here: ' + mem.method)
    assert mem.start_mb > 0
    assert mem.delta_mb == pytest.approx(mem.peak_mb - mem.start_mb)
    # the block is gone at the end, so only a peak seen during it counts
    assert mem.delta_mb >= 8, mem.method


def test_load_warning(monkeypatch):
    monkeypatch.setattr(benchmark.os, 'cpu_count', lambda: 2)
    monkeypatch.setattr(benchmark.os, 'getloadavg', lambda: (0.5, 0, 0))
    assert benchmark.load_warning('cpu') is None
    monkeypatch.setattr(benchmark.os, 'getloadavg', lambda: (3.0, 0, 0))
    text = benchmark.load_warning('cpu')
    assert '3.0 on 2 cores' in text
    # a GPU run does not compete for the CPU cores
    assert benchmark.load_warning('cuda') is None
