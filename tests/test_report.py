"""Tests of mmkd_det.analysis.records and .report on real MMEngine
LocalVisBackend logs."""
import json
import os.path as osp
import runpy
import uuid

import pytest
from mmengine.visualization import Visualizer
from PIL import Image

from mmkd_det.analysis.records import RunResult, load_run
from mmkd_det.analysis.report import (NA, markdown_table, render_table,
                                      run_report, write_report)

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'

# Final validation metrics (fractions, as CocoMetric logs them).
FINAL = {
    'teacher': (0.412, 0.601, 0.447),
    'student': (0.298, 0.493, 0.311),
    'kd': (0.305, 0.501, 0.318),
    'luminet': (0.301, 0.497, 0.322),
}

# The interrupted student launch's validation @40, which its relaunch
# repeats: AP and AP75 above the final values, AP50 below, so that neither
# the first launch's line nor a per-metric maximum or minimum is the answer.
STALE = (0.35, 0.45, 0.36)


def _val_line(ap, ap50, ap75):
    return {
        'coco/bbox_mAP': ap,
        'coco/bbox_mAP_50': ap50,
        'coco/bbox_mAP_75': ap75,
        'coco/bbox_mAP_s': -1.0
    }


def _log(run_dir, timestamp, lines):
    """Writes ``(step, scalars)`` lines the way the Runner does.

    ``Visualizer(save_dir=...)`` puts LocalVisBackend's scalars.json under
    ``<save_dir>/vis_data``, exactly as MMEngine's Runner does with
    ``<work_dir>/<timestamp>``.
    """
    vis = Visualizer(
        name=f'report-test-{uuid.uuid4()}',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(run_dir / timestamp))
    for step, scalars in lines:
        vis.add_scalars(scalars, step=step)


def _train(step):
    return step, {'lr': 0.02, 'loss': 1.0 / step, 'iter': step}


@pytest.fixture(scope='module')
def work_dirs(tmp_path_factory):
    """Four fake runs; the student is resumed once and re-validates @40."""
    root = tmp_path_factory.mktemp('work_dirs')
    for name, final in FINAL.items():
        early = _val_line(*(v / 2 for v in final))
        lines = [
            _train(10),
            _train(20), (20, early),
            _train(30),
            _train(40), (40, _val_line(*final))
        ]
        if name == 'student':
            # The first launch validated @40 (STALE), then died; the
            # relaunch resumed from the iter-20 checkpoint and re-ran 30-40.
            _log(root / name, '20240101_000000',
                 lines[:4] + [_train(40), (40, _val_line(*STALE))])
            _log(root / name, '20240101_013000', lines[3:])
        else:
            _log(root / name, '20240101_000000', lines)
    (root / 'kd' / 'calibration.json').write_text(
        json.dumps({
            'd_ece': 0.0734,
            'num_detections': 12
        }))
    return root


@pytest.fixture(scope='module')
def runs(work_dirs):
    return [load_run(str(work_dirs / name)) for name in FINAL]


def _table_rows(table):
    """Parses the Markdown table into (header, {method: cells})."""
    lines = [[c.strip() for c in line.strip('|').split('|')]
             for line in table.splitlines()]
    header, body = lines[0], lines[2:]
    return header, {row[0]: dict(zip(header, row)) for row in body}


def test_load_run_final_metrics_and_curve(runs):
    kd = runs[2]
    assert kd.name == 'kd'
    assert kd.metrics['coco/bbox_mAP'] == pytest.approx(0.305)
    assert kd.metrics['coco/bbox_mAP_75'] == pytest.approx(0.318)
    assert 'step' not in kd.metrics
    assert kd.final_iter == 40
    assert kd.curve == [(20, pytest.approx(0.1525)),
                        (40, pytest.approx(0.305))]
    assert kd.d_ece == pytest.approx(0.0734)
    assert runs[0].d_ece is None


def test_resumed_run_merges_launches(work_dirs, runs):
    student = runs[1]
    launches = (work_dirs / 'student').glob('*/vis_data/scalars.json')
    assert len(list(launches)) == 2
    # The relaunch's validation @40 replaces the first launch's stale one,
    # whether higher or lower than it.
    assert student.curve == [(20, pytest.approx(0.149)),
                             (40, pytest.approx(0.298))]
    assert student.metrics == pytest.approx(_val_line(*FINAL['student']))
    assert student.final_iter == 40


def test_load_run_name_override(work_dirs):
    assert load_run(str(work_dirs / 'kd'), name='KD (Hinton)').name == \
        'KD (Hinton)'


def test_render_table_values_and_gains(runs):
    # Put the teacher last to check it is moved to the top with the student.
    header, rows = _table_rows(render_table(runs[1:] + runs[:1]))
    assert header == [
        'Method', 'AP', 'AP50', 'AP75', 'ΔAP vs student', 'ΔAP vs kd',
        'D-ECE (%)'
    ]
    assert list(rows) == ['teacher', 'student', 'kd', 'luminet']
    assert [rows['teacher'][c] for c in ('AP', 'AP50', 'AP75')] == \
        ['41.20', '60.10', '44.70']
    # Gains in AP points, by hand: kd 30.5 - 29.8 = +0.70;
    # luminet 30.1 - 29.8 = +0.30 and 30.1 - 30.5 = -0.40.
    assert rows['kd']['ΔAP vs student'] == '+0.70'
    assert rows['luminet']['ΔAP vs student'] == '+0.30'
    assert rows['luminet']['ΔAP vs kd'] == '-0.40'
    for name, column in [('teacher', 'ΔAP vs student'),
                         ('student', 'ΔAP vs student'),
                         ('student', 'ΔAP vs kd'), ('kd', 'ΔAP vs kd')]:
        assert rows[name][column] == NA
    assert rows['kd']['D-ECE (%)'] == '7.34'
    assert rows['luminet']['D-ECE (%)'] == NA


def test_render_table_optional_columns():

    def run(name, ap):
        return RunResult(name, {'coco/bbox_mAP': ap})

    header, rows = _table_rows(
        render_table([run('a', 0.2), run('b', 0.2)], student='a'))
    # No KD run and no calibration: those columns are left out; a zero gain
    # prints as +0.00, never -0.00; absent AP50/AP75 show as NA.
    assert header == ['Method', 'AP', 'AP50', 'AP75', 'ΔAP vs a']
    assert rows['b']['ΔAP vs a'] == '+0.00'
    assert rows['b']['AP50'] == NA
    with pytest.raises(ValueError, match='unique'):
        render_table([run('a', 0.1), run('a', 0.2)])


def test_markdown_table_alignment():
    assert markdown_table(
        ['a', 'b', 'c'],
        [['x', '1', '2']
         ]) == ('| a | b | c |\n| :--- | ---: | ---: |\n| x | 1 | 2 |')
    assert markdown_table(['a', 'b'], [],
                          align='rl') == ('| a | b |\n| ---: | :--- |')


def test_write_report(runs, tmp_path):
    md_path, png_path = write_report(
        run_report(runs), str(tmp_path / 'report'))
    text = open(md_path, encoding='utf-8').read()
    assert text.startswith('# ')
    assert render_table(runs) in text
    assert 'CocoMetric' in text and 'val split' in text
    assert '![bbox AP against iteration](ap_curves.png)' in text
    assert osp.basename(png_path) == 'ap_curves.png'
    with open(png_path, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    with Image.open(png_path) as img:
        img.verify()


def test_missing_logs_raise(tmp_path):
    empty = tmp_path / 'empty_run'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='empty_run.*scalars.json'):
        load_run(str(empty))
    train_only = tmp_path / 'train_only'
    _log(train_only, '20240101_000000', [_train(10)])
    with pytest.raises(
            ValueError, match='No validation metrics.*'
            'coco/bbox_mAP'):
        load_run(str(train_only))


def test_truncated_last_line_is_skipped(tmp_path):
    run = tmp_path / 'killed'
    _log(run, '20240101_000000', [_train(10), (10, _val_line(0.1, 0.2, 0.1))])
    with open(run / '20240101_000000' / 'vis_data' / 'scalars.json', 'a') as f:
        f.write('{"lr": 0.02, "lo')
    with pytest.warns(UserWarning, match='truncated'):
        assert load_run(str(run)).metrics['coco/bbox_mAP'] == 0.1


def test_cli_prints_table(work_dirs, tmp_path, capsys):
    cli = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'report.py'))
    dirs = [str(work_dirs / n) for n in ('student', 'kd', 'teacher')]
    cli['main'](
        dirs + [
            '--names', 'S', 'KD', 'T', '--student', 'S', '--kd', 'KD',
            '--teacher', 'T', '--out',
            str(tmp_path)
        ])
    out = capsys.readouterr().out
    assert out.splitlines()[2].startswith('| T | 41.20 |')
    assert '| KD | 30.50 | 50.10 | 31.80 | +0.70 | — | 7.34 |' in out
    assert (tmp_path / 'report.md').is_file()
    assert (tmp_path / 'ap_curves.png').is_file()


def test_empty_validation_counts_as_zero_ap(tmp_path):
    # CocoMetric logs no metric when nothing was detected: only the val
    # loop's timing reaches scalars.json. That point is AP 0, and a run
    # whose last validation is empty ends at AP 0, not at its last value.
    empty_val = {'data_time': 0.01, 'time': 0.05}
    _log(tmp_path / 'collapsed', '20240101_000000', [
        _train(10), (10, empty_val),
        _train(20), (20, _val_line(0.2, 0.4, 0.1)),
        _train(30), (30, dict(empty_val))
    ])
    run = load_run(str(tmp_path / 'collapsed'))
    assert run.curve == [(10, 0.0), (20, pytest.approx(0.2)), (30, 0.0)]
    assert run.final_iter == 30
    assert run.metrics['coco/bbox_mAP'] == 0.0
    assert run.metrics['coco/bbox_mAP_75'] == 0.0
