"""Timing and peak-memory harness shared by the benchmarks in
``tools/analysis/`` (``benchmark_distill.py``, ``benchmark_losses.py``), and
the report of ``benchmark_distill.py``: phases, targets, the text table, the
teacher-precision comparison and the JSON record (numbers in, text or plain
JSON types out).

Functions to time are argument-free callables; they are run round robin
(:func:`time_interleaved`) so that changes in the load of a shared machine
affect all of them alike, and summarised by :func:`summarize`.
"""
import ctypes
import gc
import os
import resource
import statistics
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch

__all__ = [
    'time_once', 'time_interleaved', 'summarize', 'PeakMemory', 'measure_peak',
    'load_warning', 'PHASES', 'LOGIT_TARGET', 'FEATURE_TARGET',
    'format_report', 'compare_precisions', 'to_json'
]


def _sync(device) -> None:
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], object], device='cpu') -> float:
    """Wall time of one call of ``fn`` in milliseconds (synchronised)."""
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return (time.perf_counter() - start) * 1e3


def time_interleaved(fns: Dict[str, Callable[[], object]],
                     iters: int,
                     warmup: int,
                     device='cpu') -> Dict[str, List[float]]:
    """Time several functions round robin; name -> per-call times (ms).

    Interleaving spreads changes in machine load over all functions alike,
    so ratios between them are more robust than with back-to-back runs.

    Args:
        fns (dict[str, callable]): argument-free functions, timed in this
            order within each round.
        iters (int): timed rounds, >= 1.
        warmup (int): untimed rounds first, >= 0.
        device (str | torch.device): ``cuda`` synchronises around each call.

    Returns:
        dict[str, list[float]]: ``iters`` times in ms per function.
    """
    if iters < 1 or warmup < 0:
        raise ValueError(f'need iters >= 1 and warmup >= 0, got {iters}, '
                         f'{warmup}')
    times = {name: [] for name in fns}
    for i in range(warmup + iters):
        for name, fn in fns.items():
            ms = time_once(fn, device)
            if i >= warmup:
                times[name].append(ms)
    return times


def _proc_status_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return True


def _malloc_trim() -> None:
    """Hand freed heap memory back to the OS, so RSS tracks live memory."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory of a code region: ``with PeakMemory(dev) as m: ...``.

    After the block, ``m.peak_mb`` is the peak and ``m.delta_mb`` the peak
    minus the usage at the start; ``m.method`` says how it was measured:

    - CUDA: ``torch.cuda.max_memory_allocated`` after
      ``reset_peak_memory_stats`` (tensors only, not the allocator's cache).
    - CPU, Linux: ``VmHWM`` of ``/proc/self/status`` after resetting it by
      writing ``5`` to ``/proc/self/clear_refs`` (exact high-water mark of the
      process RSS within the region); freed heap memory is trimmed first so
      that the start RSS reflects live memory.
    - CPU, otherwise: ``VmRSS`` (or ``ru_maxrss``) sampled every ms by a
      background thread, a lower bound of the true peak.
    """

    def __init__(self, device='cpu', interval_s: float = 1e-3):
        self.device = torch.device(device)
        self.interval_s = interval_s
        self.method = ''
        self.start_mb = self.peak_mb = self.delta_mb = float('nan')
        self._stop = None
        self._thread = None
        self._sampled_kb = 0

    def __enter__(self) -> 'PeakMemory':
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_mb = torch.cuda.memory_allocated(self.device) / 2**20
            self.method = 'torch.cuda.max_memory_allocated'
            return self
        _malloc_trim()
        rss = _proc_status_kb('VmRSS')
        if rss is not None and _reset_hwm():
            self.start_mb = rss / 1024
            self.method = ('CPU RSS high-water mark (VmHWM after reset via '
                           '/proc/self/clear_refs)')
            return self
        # fall back to sampling in a background thread
        self.method = 'CPU RSS sampled every 1 ms by a thread (lower bound)'
        self.start_mb = (rss if rss is not None else self._maxrss_kb()) / 1024
        self._sampled_kb = int(self.start_mb * 1024)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _maxrss_kb() -> int:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return maxrss // 1024 if sys.platform == 'darwin' else maxrss

    def _current_kb(self) -> int:
        rss = _proc_status_kb('VmRSS')
        return rss if rss is not None else self._maxrss_kb()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._sampled_kb = max(self._sampled_kb, self._current_kb())
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._thread is None:
            self.peak_mb = _proc_status_kb('VmHWM') / 1024
        else:
            self._sampled_kb = max(self._sampled_kb, self._current_kb())
            self._stop.set()
            self._thread.join()
            self.peak_mb = self._sampled_kb / 1024
        self.delta_mb = self.peak_mb - self.start_mb


def measure_peak(fn: Callable[[], object], device='cpu') -> PeakMemory:
    """Run ``fn`` once inside :class:`PeakMemory` and return the record."""
    with PeakMemory(device) as mem:
        fn()
    return mem


def summarize(times: Dict[str, List[float]]) -> Dict[str, Tuple[float, float]]:
    """Name -> ``(median, minimum)`` of the per-call times.

    The median is the typical cost; the minimum is the better estimate of
    the intrinsic cost when other processes share the CPU.
    """
    return {
        name: (statistics.median(ts), min(ts))
        for name, ts in times.items()
    }


def load_warning(device) -> Optional[str]:
    """A warning when other processes compete for the CPU cores, else None."""
    if torch.device(device).type != 'cpu' or not hasattr(os, 'getloadavg'):
        return None
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load <= 0.5 * cores:
        return None
    text = (f'WARNING: 1-min load average {load:.1f} on {cores} cores: other '
            'processes compete for the CPU, timings are noisy.')
    threads = torch.get_num_threads()
    if threads > 1:
        text += (f' With {threads} intra-op threads on a busy machine each op '
                 'waits for its slowest thread; OMP_NUM_THREADS=1 in the '
                 'environment gives steadier numbers.')
    return text


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


def compare_precisions(runs: Dict[str, dict]) -> List[str]:
    """(b) and (c) of each teacher precision against the first one's.

    Args:
        runs (dict): precision -> ``dict(times=..., mem=...)`` as returned
            by :func:`run_benchmark`, the reference first.

    Returns:
        list[str]: one line per further precision (none for one).
    """
    (ref, first), *others = runs.items()
    ref_med = _medians(first['times'])
    lines = []
    for precision, run in others:
        med = _medians(run['times'])
        parts = [
            f'({k}) {med[k]:.1f} vs {ref_med[k]:.1f} ms '
            f'(speed-up {ref_med[k] / med[k]:.2f})' for k in ('b', 'c')
        ]
        peaks = (run['mem']['c'].peak_mb, first['mem']['c'].peak_mb)
        lines.append(f'teacher {precision} vs {ref}: ' + '; '.join(parts) +
                     f'; peak memory (c) {peaks[0]:.1f} vs {peaks[1]:.1f} MB')
    return lines


def _medians(times: Dict[str, List[float]]) -> Dict[str, float]:
    return {k: median for k, (median, _) in summarize(times).items()}


def to_json(result: dict, args) -> dict:
    """The results as plain JSON types.

    Args:
        result (dict): what ``run_benchmark`` returned.
        args (argparse.Namespace): the tool's arguments.

    Returns:
        dict: the settings, and per teacher precision the median and minimum
        ms per phase, c / (a + b), peak MB of (a) and (c) and whether the
        losses were finite.
    """
    runs = {}
    for precision, run in result['runs'].items():
        stats = summarize(run['times'])
        med = {k: m for k, (m, _) in stats.items()}
        runs[precision] = dict(
            median_ms=med,
            min_ms={
                k: mn
                for k, (_, mn) in stats.items()
            },
            ratio_c_over_a_plus_b=med['c'] / (med['a'] + med['b']),
            peak_mb={
                k: m.peak_mb
                for k, m in run['mem'].items()
            },
            memory_method=run['mem']['a'].method,
            losses_finite=run['losses_finite'])
    return dict(
        config=args.config,
        device=args.device,
        device_name=(torch.cuda.get_device_name()
                     if args.device == 'cuda' else 'cpu'),
        torch=torch.__version__,
        batch=args.batch,
        size_hw=list(args.size),
        iters=args.iters,
        warmup=args.warmup,
        random_teacher=bool(args.random_teacher),
        has_feature_losses=result['has_feature_losses'],
        phases=PHASES,
        runs=runs)
