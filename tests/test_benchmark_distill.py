"""tools/analysis/benchmark_distill.py: its report and a tiny CPU run.

The timing and memory harness it uses is tested in
``test_benchmark_harness.py``.
"""
import json
import math
import os.path as osp
from types import SimpleNamespace

import pytest
from conftest import CONFIGS, load_tool

from mmkd_det.utils.benchmark import FEATURE_TARGET, LOGIT_TARGET

LUMINET = osp.join(CONFIGS, 'distill', 'luminet', 'luminet_shapes.py')
COCO_KD = osp.join(CONFIGS, 'distill', 'kd', 'kd_r101-r18_fpn_coco.py')


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/benchmark_distill.py')


def test_parse_size(tool):
    assert tool.parse_size('64x96') == (64, 96)
    assert tool.parse_size('128') == (128, 128)


def _mem(peak, start):
    return SimpleNamespace(
        method='test', peak_mb=peak, start_mb=start, delta_mb=peak - start)


@pytest.mark.parametrize(
    'c_ms,feature,verdict',
    [
        (157.0, False, 'PASS'),  # 157 / (100 + 50) = 1.047 <= 1.05
        (159.0, False, 'ABOVE TARGET'),  # 1.060 > 1.05
        (159.0, True, 'PASS'),  # feature losses: target 1.10
    ])
def test_format_report_ratio_and_verdict(tool, c_ms, feature, verdict):
    times = {
        'a': [100.0, 90.0, 110.0],
        'b': [50.0, 40.0, 60.0],
        'c': [c_ms, c_ms - 30, c_ms + 30],
        'd': [80.0, 70.0, 90.0]
    }
    mem = {'a': _mem(300.0, 200.0), 'c': _mem(350.0, 200.0)}
    lines = tool.format_report(times, mem, feature)
    ratio = c_ms / 150.0
    target = FEATURE_TARGET if feature else LOGIT_TARGET
    assert f'ratio c / (a + b) = {ratio:.3f}   target <= {target:.2f}' \
        in '\n'.join(lines)
    assert lines[5].endswith(verdict)
    # the fastest iterations: (c - 30) / (90 + 40)
    assert f'{(c_ms - 30) / 130:.3f}' in lines[6]
    # teacher on the student's RoIs saves d - b = 30 ms of 80 (37.5%)
    assert 'saving 30.0 ms per iteration (37.5% of d)' in lines[8]
    # c / a = 157 / 100 or 159 / 100 (medians)
    assert f'c / a = {c_ms / 100:.2f}x' in lines[7]
    # peak memory of (a) and (c): peak and increase over the start
    assert ' 300.0 MB' in lines[10]
    assert lines[10].split()[0] == '(a)'
    assert lines[10].endswith('100.0 MB')
    assert lines[11].split()[0] == '(c)'
    assert lines[11].endswith('150.0 MB')
    assert ' 350.0 MB' in lines[11]


@pytest.mark.slow  # builds the distiller and runs every phase
def test_benchmark_runs_tiny(tool):
    args = tool.parse_args([
        LUMINET, '--random-teacher', '--batch', '1', '--size', '64x64',
        '--iters', '2', '--warmup', '1'
    ])
    result = tool.run_benchmark(args)
    assert result['has_feature_losses'] is False  # LumiNet: logits only
    run = result['runs']['fp32']  # the default teacher precision only
    assert list(result['runs']) == ['fp32'] and run['losses_finite']
    times = run['times']
    assert sorted(times) == ['a', 'b', 'c', 'd']
    assert all(len(ts) == 2 and min(ts) > 0 for ts in times.values())
    for key in ('a', 'c'):
        mem = run['mem'][key]
        assert math.isfinite(mem.peak_mb) and mem.peak_mb >= mem.start_mb > 0
    # the report is built from these numbers
    lines = tool.format_report(run['times'], run['mem'], False)
    assert len(lines) == 12
    assert tool.compare_precisions(result['runs']) == []


@pytest.mark.slow  # builds R101 and R18 Faster R-CNNs with 80 classes
def test_coco_pair_random_teacher_fp32_and_bf16(tool, tmp_path, capsys):
    """The COCO-size benchmark's configuration (the R101 -> R18 pair, a
    random teacher, both teacher precisions, JSON) at a reduced size: one
    iteration of 64x64 on the CPU."""
    out = tmp_path / 'bench.json'
    assert tool.main([
        COCO_KD, '--random-teacher', '--batch', '1', '--size', '64x64',
        '--iters', '1', '--warmup', '0', '--teacher-precision', 'fp32', 'bf16',
        '--json',
        str(out)
    ]) == 0
    text = capsys.readouterr().out
    assert 'teacher bf16 vs fp32: (b) ' in text
    record = json.loads(out.read_text())
    assert record['size_hw'] == [64, 64] and record['random_teacher']
    assert list(record['runs']) == ['fp32', 'bf16']
    for run in record['runs'].values():
        assert sorted(run['median_ms']) == ['a', 'b', 'c', 'd']
        assert all(ms > 0 for ms in run['median_ms'].values())
        assert sorted(run['peak_mb']) == ['a', 'c']
        assert run['losses_finite'] is True
        ratio = run['median_ms']['c'] / (
            run['median_ms']['a'] + run['median_ms']['b'])
        assert run['ratio_c_over_a_plus_b'] == pytest.approx(ratio)


def test_fp16_teacher_needs_cuda(tool):
    args = tool.parse_args(
        [COCO_KD, '--random-teacher', '--teacher-precision', 'fp32', 'fp16'])
    with pytest.raises(SystemExit, match='fp16 needs --device cuda'):
        tool.run_benchmark(args)


@pytest.mark.slow
def test_pairing_benchmark_times_every_pairing(capsys):
    pairings = load_tool('analysis/benchmark_pairings.py')
    pairings.main(
        ['--iters', '1', '--warmup', '0', '--size', '64x64', '--batch', '1'])
    rows = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('| ') and '<-' in line and 'ms' not in line
    ]
    assert len(rows) == len(pairings.PAIRINGS) == 10
    assert rows[0].startswith('| faster <- faster |')
    assert rows[0].endswith('| 1.00 |')
    assert all(float(r.split('|')[2]) > 0 for r in rows)


@pytest.mark.parametrize('bad', [['--batch', '0'], ['--iters', '0'],
                                 ['--num-gts', '-1'], ['--warmup', '-1']])
def test_parse_args_rejects_bad_counts(tool, bad, capsys):
    """Counts below their minimum stop the tool while parsing, naming the
    flag, before a model is built."""
    with pytest.raises(SystemExit):
        tool.parse_args([osp.join(CONFIGS, 'distill', 'kd', 'kd_shapes.py')] +
                        bad)
    err = capsys.readouterr().err
    assert bad[0] in err and bad[1] in err, err
