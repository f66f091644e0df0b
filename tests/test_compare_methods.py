"""Tests of the method comparison tool (tools/analysis/compare_methods.py).

Statistics against hand-computed numbers; results.json merging and atomic
writes; resume-and-skip with a stub in place of the training processes;
the report of 2 methods x 3 seeds; the tuning grid against the configs. One
slow end-to-end run trains a real student for 2 iterations.
"""
import json
import math
import os
import os.path as osp
import runpy
import shutil
import subprocess

import pytest
from conftest import FakeTrainer
from mmdet.registry import MODELS
from mmengine.config import Config

from mmkd_det.analysis.comparison import (MARKER, METHODS, PAIRS, final_config,
                                          parse_options, resolve_configs)
from mmkd_det.analysis.comparison_plan import plan_comparison, plan_tune
from mmkd_det.analysis.comparison_report import (comparison_report,
                                                 paste_table,
                                                 render_comparison,
                                                 render_tune_table)
from mmkd_det.analysis.records import (add_records, atomic_write_json,
                                       git_commit, load_records, merge_records)
from mmkd_det.analysis.report import write_report
from mmkd_det.analysis.stats import (Summary, curve_band, format_interval,
                                     format_summary, last_fifth_gain,
                                     paired_deltas, summarize, t_interval)
from mmkd_det.analysis.tune_grid import (TUNE_GRIDS, grid_points,
                                         point_options, warmup_iters)
from mmkd_det.datasets.digits import DIGITS_SPEC
from mmkd_det.utils import methods as registry

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'compare_methods.py')
QUICKSTART = osp.join(REPO_ROOT, 'tools', 'quickstart.py')
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def _main():
    return runpy.run_path(TOOL)['main']


# ------------------------------------------------------------- statistics
def test_summarize_hand_numbers():
    s = summarize([0.25, 0.27, 0.29])
    assert s.n == 3 and s.positive == 3
    assert s.mean == pytest.approx(0.27)
    # deviations -0.02, 0, 0.02: sqrt(0.0008 / 2) = 0.02 (n-1, not n)
    assert s.std == pytest.approx(0.02)
    assert summarize([1.0, 2.0, 3.0, 6.0]).std == pytest.approx(
        (14 / 3)**0.5)  # mean 3, squares 4+1+0+9


def test_t_interval_hand_numbers():
    # mean 2, std 1, n 3: t(0.975, 2) = 4.302652729911275 (t tables)
    low, high = t_interval(summarize([1.0, 2.0, 3.0]))
    half = 4.302652729911275 / math.sqrt(3)
    assert low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    # 90%: t(0.95, 2) = 2.919985580355516
    low, _ = t_interval(summarize([1.0, 2.0, 3.0]), confidence=0.9)
    assert low == pytest.approx(2 - 2.919985580355516 / math.sqrt(3))
    assert t_interval(summarize([0.4])) is None  # one seed: no interval
    with pytest.raises(ValueError, match='confidence'):
        t_interval(summarize([1.0, 2.0]), confidence=95)
    assert format_interval((-0.0029, 0.02691)) == '[-0.29, +2.69]'
    assert format_interval(None) == '—'


def test_summarize_one_value_has_no_std():
    s = summarize([0.3])
    assert s == Summary(n=1, mean=0.3, std=None, positive=1)
    assert format_summary(s) == '30.00 ± —'


def test_summarize_rejects_empty_and_nan():
    with pytest.raises(ValueError, match='at least one value'):
        summarize([])
    with pytest.raises(ValueError, match='non-finite'):
        summarize([0.1, float('nan')])


def test_paired_deltas_pairs_common_seeds():
    deltas = paired_deltas({
        0: 0.23,
        1: 0.24,
        2: 0.28,
        3: 0.5
    }, {
        0: 0.20,
        1: 0.22,
        2: 0.24
    })
    assert list(deltas) == [0, 1, 2]
    assert [round(v, 10) for v in deltas.values()] == [0.03, 0.02, 0.04]
    s = summarize(deltas.values())
    assert s.mean == pytest.approx(0.03) and s.std == pytest.approx(0.01)
    assert format_summary(s, signed=True) == '+3.00 ± 1.00'
    negative = summarize([-0.01, 0.02, -0.04])
    assert negative.positive == 1
    assert format_summary(negative, signed=True) == '-1.00 ± 3.00'
    assert format_summary(None) == '—'


def test_curve_band_common_iterations():
    steps, mean, low, high = curve_band([[(100, 0.1), (200, 0.3)],
                                         [(100, 0.2), (200, 0.5), (300, 1)]])
    assert steps == [100, 200]
    assert mean == pytest.approx([0.15, 0.4])
    assert low == [0.1, 0.3] and high == [0.2, 0.5]
    assert curve_band([]) == ([], [], [], [])


# ----------------------------------------------------------- results.json
def _rec(method, seed, ap, split='val', settings=None):
    return dict(
        method=method,
        seed=seed,
        split=split,
        bbox_mAP=ap,
        settings=settings or {})


def test_merge_replaces_same_key_and_keeps_other_settings():
    old = [_rec('kd', 0, 0.1), _rec('kd', 1, 0.2)]
    new = [
        _rec('kd', 0, 0.15),
        _rec('kd', 0, 0.3, settings={'T': 2}),
        _rec('kd', 0, 0.4, split='tune')
    ]
    merged = merge_records(old, new)
    assert [r['bbox_mAP'] for r in merged] == [0.15, 0.2, 0.3, 0.4]


def test_add_records_no_duplicates_and_atomic(tmp_path):
    path = str(tmp_path / 'out' / 'results.json')
    add_records(path, [_rec('kd', 0, 0.1)])
    add_records(path, [_rec('kd', 0, 0.1), _rec('dkd', 0, 0.2)])
    assert [r['method'] for r in load_records(path)] == ['kd', 'dkd']
    before = open(path).read()
    with pytest.raises(TypeError):  # not JSON-serialisable mid-write
        atomic_write_json(path, dict(runs=[object()]))
    assert open(path).read() == before
    assert sorted(os.listdir(tmp_path /
                             'out')) == ['results.json', 'results.json.lock']


def test_load_records_rejects_foreign_file(tmp_path):
    path = tmp_path / 'results.json'
    path.write_text('[1, 2]')
    with pytest.raises(ValueError, match='no "runs" list'):
        load_records(str(path))


def test_git_commit_dirty_except_results_folder(tmp_path):
    repo = tmp_path / 'repo'
    (repo / 'bench').mkdir(parents=True)
    for name in ('code.py', 'bench/results.json'):
        (repo / name).write_text('1\n')

    def git(*args):
        subprocess.run([
            'git', '-C',
            str(repo), '-c', 'user.name=t', '-c', 'user.email=t@t', *args
        ],
                       check=True,
                       capture_output=True)

    git('init', '-q')
    git('add', '-A')
    git('commit', '-qm', 'init')
    head = subprocess.run(
        ['git', '-C', str(repo), 'rev-parse', 'HEAD'],
        capture_output=True,
        text=True).stdout.strip()
    assert git_commit(str(repo)) == head
    (repo / 'bench' / 'results.json').write_text('2\n')
    (repo / 'untracked.txt').write_text('x')
    excluded = [str(repo / 'bench'), str(tmp_path / 'outside')]
    assert git_commit(str(repo), exclude=excluded) == head
    assert git_commit(str(repo)) == head + '+dirty'
    (repo / 'code.py').write_text('2\n')
    assert git_commit(str(repo), exclude=excluded) == head + '+dirty'
    assert git_commit(str(tmp_path)) == 'unknown'


# ------------------------------------------------ resume and skip (stub)
def test_resume_and_skip(tmp_path, fake_root, capsys):
    main = _main()
    work, out = str(tmp_path / 'work'), str(tmp_path / 'out')
    argv = [
        '--methods', 'kd', '--seeds', '0', '1', '--data-root', fake_root,
        '--work-dir', work, '--out', out, '--train-teacher', '--cfg-options',
        'train_cfg.max_iters=4'
    ]
    trainer = FakeTrainer()
    assert main(argv, run_command=trainer) == 0
    # the teacher, what does not need it, then the distillation runs
    assert trainer.calls == [
        'val/teacher/seed0', 'val/student/seed0', 'val/student/seed1',
        'val/kd/seed0', 'val/kd/seed1'
    ]
    records = load_records(osp.join(out, 'results.json'))
    assert len(records) == 5
    kd1 = next(r for r in records if r['method'] == 'kd' and r['seed'] == 1)
    assert kd1['bbox_mAP'] == pytest.approx(0.24)
    assert kd1['ap_curve'] == [[2, pytest.approx(0.12)],
                               [4, pytest.approx(0.24)]]
    assert kd1['d_ece'] == 0.05
    assert kd1['settings']['logit_losses']['loss_kd_cls']['temperature'] == 1
    assert kd1['config'] == osp.relpath(
        registry.leaf_config('kd', 'digits'), REPO_ROOT)
    assert kd1['config'] == 'configs/distill/kd/kd_digits.py'
    assert kd1['pair'] == 'digits'
    assert any(
        o.startswith('model.teacher.checkpoint=')
        and o.endswith('teacher/seed0/iter_4.pth') for o in kd1['options'])

    trainer = FakeTrainer()
    assert main(argv, run_command=trainer) == 0
    assert trainer.calls == []  # everything finished: nothing re-runs

    # an interrupted run: no marker, no record, junk in its folder
    kd1_dir = osp.join(work, 'val', 'kd', 'seed1')
    os.remove(osp.join(kd1_dir, MARKER))
    results = osp.join(out, 'results.json')
    with open(results) as f:
        data = json.load(f)
    data['runs'] = [
        r for r in data['runs'] if (r['method'], r['seed']) != ('kd', 1)
    ]
    assert len(data['runs']) == 4
    atomic_write_json(results, data)
    junk = osp.join(kd1_dir, 'junk_from_interrupted_run')
    open(junk, 'w').close()
    trainer = FakeTrainer()
    assert main(argv, run_command=trainer) == 0
    assert trainer.calls == ['val/kd/seed1']
    assert not osp.exists(junk)  # restarted in a clean folder
    assert len(load_records(osp.join(out, 'results.json'))) == 5

    # another config (here a longer schedule) is not the finished run
    argv[-1] = 'train_cfg.max_iters=6'
    capsys.readouterr()
    assert main(argv + ['--dry-run']) == 0
    states = capsys.readouterr().out.split()[::2]
    assert states == ['stale'] * 5


def test_report_covers_the_whole_comparison(tmp_path, fake_root):
    """A comparison run in pieces (--methods/--seeds subsets) reports every
    finished run of the current configs, not only the last piece's; a
    record of another config is not part of it."""
    main = _main()
    out = str(tmp_path / 'out')
    argv = [
        '--data-root', fake_root, '--work-dir',
        str(tmp_path / 'work'), '--out', out
    ]
    iters4 = ['--cfg-options', 'train_cfg.max_iters=4']
    assert main(
        argv + ['--methods', 'kd', '--seeds', '0'] + iters4,
        run_command=FakeTrainer()) == 0
    trainer = FakeTrainer()
    assert main(
        argv + ['--methods', 'student', '--seeds', '1'] + iters4,
        run_command=trainer) == 0
    assert trainer.calls == ['val/student/seed1']

    def rows():
        with open(osp.join(out, 'report.md'), encoding='utf-8') as f:
            lines = f.read().split('\n')
        return {
            line.split(' | ')[0][2:]: line.split(' | ')[1]
            for line in lines if line.startswith('| ') and ' | ' in line
            and not line.startswith('| Method') and '---' not in line
        }

    assert rows() == {'student': '2', 'kd': '1'}  # seeds 0-1, and KD
    # --readme puts that table after the marker line, nothing else changes
    readme = tmp_path / 'README.md'
    readme.write_text('# Title\n<!-- benchmark-table -->\n| old |\n\nText\n')
    assert main(
        argv +
        ['--methods', 'student', '--seeds', '1', '--readme',
         str(readme)] + iters4,
        run_command=FakeTrainer()) == 0
    table = render_comparison(
        [r for r in load_records(osp.join(out, 'results.json'))])
    assert readme.read_text() == ('# Title\n<!-- benchmark-table -->\n' +
                                  table.strip('\n') + '\n\nText\n')
    # another schedule: the 4-iteration records are not its runs
    assert main(
        argv + ['--methods', 'student', '--seeds', '0'] +
        ['--cfg-options', 'train_cfg.max_iters=6'],
        run_command=FakeTrainer()) == 0
    assert rows() == {'student': '1'}
    # still in results.json (the new student seed 0 replaced its namesake)
    assert len(load_records(osp.join(out, 'results.json'))) == 3


def test_paste_table_replaces_the_marked_block_only():
    text = 'a\n<!-- benchmark-table -->\n| x |\n| y |\n\nb\n'
    assert paste_table(
        text, '| z |\n') == ('a\n<!-- benchmark-table -->\n| z |\n\nb\n')
    assert paste_table('<!-- benchmark-table -->',
                       '| z |') == ('<!-- benchmark-table -->\n| z |'
                                    )  # marker on the last line
    with pytest.raises(ValueError, match='benchmark-table'):
        paste_table('a\n| x |\n', '| z |')


def test_readme_without_marker_is_refused_before_any_run(tmp_path, capsys):
    readme = tmp_path / 'README.md'
    readme.write_text('no marker here\n')
    with pytest.raises(SystemExit):
        _main()(['--methods', 'student', '--readme',
                 str(readme)],
                run_command=FakeTrainer())
    assert 'add it where the table goes' in capsys.readouterr().err


def _write_meta(root: str, **args) -> None:
    """A digits ``meta.json`` whose arguments are the defaults + ``args``."""
    with open(osp.join(root, 'meta.json'), 'w') as f:
        json.dump(
            dict(
                generator=DIGITS_SPEC.generator,
                version=DIGITS_SPEC.version,
                args={
                    **DIGITS_SPEC.params(),
                    **args
                }), f)


def test_stale_dataset_is_refused(tmp_path, fake_root, capsys):
    """A digits dataset made with other generator arguments (e.g. left by an
    older checkout) would silently change every number: refused, with the
    fix; --custom-data accepts it, and regenerating it makes finished runs
    stale."""
    main = _main()
    work, out = str(tmp_path / 'work'), str(tmp_path / 'out')
    argv = [
        '--methods', 'student', '--seeds', '0', '--data-root', fake_root,
        '--work-dir', work, '--out', out, '--cfg-options',
        'train_cfg.max_iters=4'
    ]
    _write_meta(fake_root)  # the defaults
    assert main(argv, run_command=FakeTrainer()) == 0

    _write_meta(fake_root, num_train=123)
    with pytest.raises(SystemExit) as err:
        main(argv, run_command=FakeTrainer())
    msg = str(err.value)
    assert 'num_train=123 (expected' in msg
    assert 'tools/make_dataset.py digits' in msg and '--custom-data' in msg

    capsys.readouterr()
    assert main(argv + ['--custom-data', '--dry-run']) == 0
    assert capsys.readouterr().out.split()[::2] == ['stale']
    trainer = FakeTrainer()
    assert main(argv + ['--custom-data'], run_command=trainer) == 0
    assert trainer.calls == ['val/student/seed0']

    _write_meta(fake_root)  # back to the defaults: that run is stale now
    capsys.readouterr()
    assert main(argv + ['--dry-run']) == 0
    assert capsys.readouterr().out.split()[::2] == ['stale']


def test_parallel_jobs_share_the_cores(tmp_path, fake_root):
    trainer = FakeTrainer()
    assert _main()([
        '--methods', 'kd', 'dkd', '--seeds', '0', '1', '--jobs', '2',
        '--cores', '4', '--train-teacher', '--data-root', fake_root,
        '--work-dir',
        str(tmp_path / 'w'), '--out',
        str(tmp_path / 'o'), '--cfg-options', 'train_cfg.max_iters=4'
    ],
                   run_command=trainer) == 0
    # the teacher shares the cores with the plain students; every
    # distillation run started once the teacher's checkpoint was there
    assert trainer.threads == {
        f'val/{m}/seed{s}': '2'
        for m in ('teacher', 'student', 'kd', 'dkd')
        for s in (0, 1) if m != 'teacher' or s == 0
    }
    assert trainer.teacher_ready == {
        f'val/{m}/seed{s}': True
        for m in ('kd', 'dkd')
        for s in (0, 1)
    }
    assert len(load_records(str(tmp_path / 'o' / 'results.json'))) == 7


def test_dry_run_lists_states(tmp_path, fake_root, capsys):
    main = _main()
    argv = [
        '--methods', 'student', '--seeds', '0', '--data-root', fake_root,
        '--work-dir',
        str(tmp_path / 'w'), '--out',
        str(tmp_path / 'o'), '--cfg-options', 'train_cfg.max_iters=4'
    ]
    main(argv, run_command=FakeTrainer())
    os.makedirs(tmp_path / 'w' / 'val' / 'student' / 'seed1')
    capsys.readouterr()
    assert main(argv[:3] + ['0', '1'] + argv[4:] + ['--dry-run']) == 0
    lines = capsys.readouterr().out.split('\n')
    assert 'done     val/student/seed0' in lines
    assert 'partial  val/student/seed1' in lines


def _evaluated_on(cmd):
    """The annotation files and image folders that the validation, test and
    evaluators of a ``train.py`` command read, in the config the tool builds
    from its arguments."""
    options = cmd[cmd.index('--cfg-options') + 1:] \
        if '--cfg-options' in cmd else []
    cfg = final_config(cmd[2], options, cmd[cmd.index('--data-root') + 1])
    paths = {
        cfg[name].ann_file
        for name in ('val_evaluator', 'test_evaluator')
    }
    for loader in ('val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        paths |= {
            osp.join(dataset.data_root, dataset.ann_file),
            osp.join(dataset.data_root, dataset.data_prefix.img)
        }
    return {osp.normpath(p) for p in paths}


def test_tune_never_reads_val_and_fills_tables(tmp_path, fake_root):
    main = _main()
    out = str(tmp_path / 'out')
    trainer = FakeTrainer()
    assert main([
        '--tune', '--methods', 'luminet', '--data-root', fake_root,
        '--work-dir',
        str(tmp_path / 'w'), '--out', out, '--cfg-options',
        'train_cfg.max_iters=12'
    ],
                run_command=trainer) == 0
    # the plain student and the grid, taught by the shipped teacher
    assert len(trainer.calls) == 1 + len(grid_points('luminet'))
    records = load_records(osp.join(out, 'results.json'))
    assert {r['split'] for r in records} == {'tune'}
    shipped = f'model.teacher.checkpoint={registry.shipped_teacher("digits")}'
    assert all(shipped in r['options'] for r in records
               if r['method'] == 'luminet')
    for record in records:
        assert not any('instances_val' in o or '=val/' in o
                       for o in record['options'])
    # every training and calibration validates and tests on tune, and
    # nothing else: the configs' own split is val
    tune = {
        osp.join(fake_root, 'annotations', 'instances_tune.json'),
        osp.join(fake_root, 'tune')
    }
    # training only: D-ECE comes from the runs' own validations
    tools = [osp.basename(cmd[1]) for cmd in trainer.commands]
    assert tools == ['train.py'] * len(trainer.calls)
    for cmd in trainer.commands:
        assert _evaluated_on(cmd) == tune, cmd[1:3]
    table = open(osp.join(out, 'tune_luminet.md')).read()
    points = grid_points('luminet')
    assert table.count('| luminet |') == len(points)
    first = points[0]  # warm-up 1/12 of 12 iterations = 1
    assert (f"| luminet | {first['temperature']:g} | "
            f"{first['loss_weight']:g} | 1 |") in table
    with pytest.raises(SystemExit):
        main(['--tune', '--split', 'val', '--data-root', fake_root])


# ---------------------------------------------------------------- report
def _records_2x3():
    aps = {'student': [0.20, 0.22, 0.24], 'kd': [0.23, 0.24, 0.28]}
    records = [
        dict(
            method='teacher',
            seed=0,
            split='val',
            bbox_mAP=0.45,
            bbox_mAP_50=0.7,
            bbox_mAP_75=0.5,
            d_ece=0.1,
            ap_curve=[[1, 0.3], [2, 0.45]],
            commit='abc')
    ]
    for method, values in aps.items():
        for seed, ap in enumerate(values):
            records.append(
                dict(
                    method=method,
                    seed=seed,
                    split='val',
                    bbox_mAP=ap,
                    bbox_mAP_50=ap + 0.2,
                    bbox_mAP_75=ap - 0.05,
                    d_ece=0.04 + 0.01 * seed,
                    ap_curve=[[1, ap / 2], [2, ap]],
                    commit='abc'))
    return records


def test_report_two_methods_three_seeds(tmp_path):
    table = render_comparison(_records_2x3())
    rows = [r.split(' | ') for r in table.split('\n')]
    assert rows[0][0] == '| Method' and rows[2][0] == '| teacher'
    teacher, student, kd = rows[2], rows[3], rows[4]
    assert teacher[1:3] == ['1', '45.00 ± —']
    assert student[1:6] == [
        '3', '22.00 ± 2.00', '42.00 ± 2.00', '17.00 ± 2.00', '5.00 ± 1.00'
    ]
    # kd AP 23, 24, 28: mean 25, std sqrt((4 + 1 + 9) / 2) = 2.65
    assert kd[2] == '25.00 ± 2.65'
    # paired deltas vs the student: 3, 2, 4 -> +3.00 ± 1.00, 3 of 3 above;
    # 95% t interval 3 ± 4.3027 * 1 / sqrt(3) = 3 ± 2.48
    assert kd[6:9] == ['+3.00 ± 1.00', '[+0.52, +5.48]', '3/3']
    assert kd[9:12] == ['—', '—', '—']  # KD against itself
    # plateau criterion: curves [(1, ap / 2), (2, ap)] gain ap / 2 after
    # the last point at or before 80% of 2 iterations: 11.5, 12, 14
    assert kd[12] == '+12.50 ± 1.32 |'
    assert student[6:12] == ['—'] * 6
    assert teacher[12] == '+15.00 ± — |'  # 0.45 - 0.3

    md, png = write_report(
        comparison_report(_records_2x3(), 'val'), str(tmp_path))
    text = open(md).read()
    assert table in text and 'n − 1' in text and '`abc`' in text
    assert '![bbox AP against iteration](ap_curves.png)' in text
    with open(png, 'rb') as f:
        assert f.read(8) == PNG_MAGIC
    assert write_report(
        comparison_report(_records_2x3(), 'tune'),
        str(tmp_path)) == (str(tmp_path / 'report_tune.md'),
                           str(tmp_path / 'ap_curves_tune.png'))


def test_tune_table_marks_best_in_grid_order():
    records = [
        dict(
            bbox_mAP=ap,
            bbox_mAP_50=0.5,
            bbox_mAP_75=0.2,
            d_ece=None,
            tune_point=dict(temperature=t, loss_weight=4, warmup_iters=0))
        for ap, t in ((0.2, 1), (0.3, 2))
    ]
    table = render_tune_table('kd', records, dict(bbox_mAP=0.1))
    # the order the runs finished in does not matter
    assert render_tune_table('kd', records[::-1], dict(bbox_mAP=0.1)) == table
    lines = table.split('\n')
    assert lines[2].startswith('| student | — | — | — | 10.00 |')
    assert lines[3] == '| kd | 1 | 4 | 0 | 20.00 | 50.00 | 20.00 | — |'
    assert lines[4].startswith('| kd | 2 | 4 | 0 | **30.00** |')


# ------------------------------------------------- configs from registry
@pytest.mark.parametrize('pair', ['digits', 'shapes', 'cascade_shapes'])
def test_configs_come_from_the_registry(pair):
    assert METHODS == tuple(registry.METHODS)
    assert set(PAIRS) == {
        name
        for name, p in registry.PAIRS.items()
        if p.dataset in ('digits', 'shapes')
    }
    for method in METHODS:
        configs = resolve_configs(method, pair)
        assert configs.train == registry.leaf_config(method, pair)
        assert configs.student == registry.student_config(pair)
        assert configs.teacher == registry.teacher_config(pair)
        assert osp.isfile(configs.train)
    assert resolve_configs('teacher', pair).train == \
        registry.teacher_config(pair)
    assert resolve_configs('student', pair).train == \
        registry.student_config(pair)


@pytest.mark.parametrize('pair,match',
                         [('nope', 'Unknown pair'),
                          ('r101-r18_fpn_coco', 'embedded dataset')])
def test_unknown_or_coco_pair_rejected(pair, match):
    assert pair not in PAIRS
    with pytest.raises(ValueError, match=match):
        resolve_configs('kd', pair)


def test_plan_uses_the_pair(tmp_path, fake_root):
    teacher, runs = plan_comparison(['kd'], [0],
                                    'val',
                                    str(tmp_path),
                                    fake_root, ['train_cfg.max_iters=4'],
                                    pair='cascade_shapes')
    assert teacher.config == registry.teacher_config('cascade_shapes')
    assert teacher.config != registry.teacher_config('shapes')
    assert teacher.pair == 'cascade_shapes'
    assert [(r.method, r.config, r.pair) for r in runs] == [
        ('student', registry.student_config('cascade_shapes'),
         'cascade_shapes'),
        ('kd', registry.leaf_config('kd', 'cascade_shapes'), 'cascade_shapes')
    ]


def test_records_of_two_pairs_do_not_replace_each_other():
    old = dict(method='kd', seed=0, split='val', settings={}, bbox_mAP=0.2)
    other_pair = dict(old, pair='cascade_shapes', bbox_mAP=0.3)
    same_pair = dict(old, pair='shapes', bbox_mAP=0.4)
    assert merge_records([old], [other_pair]) == [old, other_pair]
    assert merge_records([old, other_pair],
                         [same_pair]) == [same_pair, other_pair]


def test_cli_pair_gets_its_own_folders(tmp_path, fake_root):
    trainer = FakeTrainer()
    main = runpy.run_path(TOOL)
    args = main['parse_args'](['--pair', 'cascade_shapes'])
    assert args.work_dir.endswith(
        osp.join('work_dirs', 'compare_cascade_shapes'))
    assert args.out.endswith(
        osp.join('benchmarks', 'shapes', 'cascade_shapes'))
    default = main['parse_args']([])
    assert default.pair == 'digits'
    assert default.out.endswith(osp.join('benchmarks', 'digits'))
    assert default.data_root.endswith(osp.join('data', 'digits'))
    assert default.teacher_checkpoint == registry.shipped_teacher('digits')
    assert main['parse_args'](['--train-teacher']).teacher_checkpoint is None
    shapes = main['parse_args'](['--pair', 'shapes'])
    assert shapes.out.endswith(osp.join('benchmarks', 'shapes'))
    assert shapes.work_dir.endswith(osp.join('work_dirs', 'compare_shapes'))
    out = str(tmp_path / 'o')
    assert main['main']([
        '--pair', 'cascade_shapes', '--methods', 'teacher', '--seeds', '0',
        '--data-root', fake_root, '--work-dir',
        str(tmp_path / 'w'), '--out', out, '--cfg-options',
        'train_cfg.max_iters=4'
    ],
                        run_command=trainer) == 0
    record, = load_records(osp.join(out, 'results.json'))
    assert (record['method'], record['pair']) == ('teacher', 'cascade_shapes')
    assert record['config'] == osp.relpath(
        registry.teacher_config('cascade_shapes'), REPO_ROOT)


# ------------------------------------------------------------- tune grid
def _has_key(cfg, dotted):
    node = cfg
    for part in dotted.split('.'):
        if part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize('method', sorted(TUNE_GRIDS))
def test_grid_at_most_9_points_on_existing_keys(method):
    points = grid_points(method)
    assert len(points) <= 9
    assert len({tuple(sorted(p.items())) for p in points}) == len(points)
    cfg = Config.fromfile(resolve_configs(method).train)
    for point in points:
        for key in parse_options(point_options(method, point, 100)):
            assert _has_key(cfg, key), f'{key} not in {method} config'


def test_grid_settings_reach_the_built_losses(teacher_checkpoint, fake_root):
    # the shapes pair: the tests' tiny teacher is a shapes detector
    point = grid_points('zscore-dkd', 'shapes')[-1]
    options = point_options('zscore-dkd', point, 120) + [
        f'model.teacher.checkpoint={teacher_checkpoint}'
    ]
    cfg = final_config(
        resolve_configs('zscore-dkd', 'shapes').train, options, fake_root)
    model = MODELS.build(cfg.model)
    loss = model.logit_losses['loss_dkd_cls']
    assert (loss.temperature, loss.loss_weight) == (point['temperature'],
                                                    point['loss_weight'])
    assert (loss.temperature, loss.loss_weight) != (1.0, 1.0)  # not defaults
    assert model.warmup.fraction == point['warmup'] == 1 / 12
    assert warmup_iters(point, 120) == 10  # the table's warm-up column


def test_plan_tune_covers_logit_methods_only(tmp_path, fake_root):
    assert set(TUNE_GRIDS) <= set(METHODS)
    with pytest.raises(KeyError, match='No tuning grid'):
        plan_tune(['fitnet'], 0, str(tmp_path), fake_root)


# ------------------------------------------------------- real, end to end
@pytest.mark.slow
def test_end_to_end_student(shapes_root, tmp_path):
    out = str(tmp_path / 'out')
    assert _main()([
        '--methods', 'student', '--seeds', '0', '--pair', 'shapes',
        '--custom-data', '--data-root', shapes_root, '--work-dir',
        str(tmp_path / 'work'), '--out', out, '--cfg-options',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=1',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ]) == 0
    records = load_records(osp.join(out, 'results.json'))
    assert len(records) == 1
    record = records[0]
    assert (record['method'], record['seed'], record['split']) == ('student',
                                                                   0, 'val')
    assert 0.0 <= record['bbox_mAP'] <= 1.0
    assert [step for step, _ in record['ap_curve']] == [1, 2]
    # calibration ran on the 4 val images: after 2 iterations every score is
    # near 1/9, so D-ECE is undefined and the record says why (a run whose
    # calibration never ran would have neither a number nor this error)
    assert record['d_ece'] is None
    assert record['d_ece_error'].startswith(
        'ValueError: No detection with score >= 0.3 in 4 images'
    ), record['d_ece_error']
    assert osp.isfile(osp.join(out, 'report.md'))


@pytest.mark.slow
def test_end_to_end_tune_split(shapes_root, tmp_path):
    """The generated tune split: the run validates on tune only."""
    root = tmp_path / 'data'
    shutil.copytree(shapes_root, root)
    (root / 'val').rename(root / 'val_hidden')  # reading val would fail
    work, out = tmp_path / 'work', str(tmp_path / 'out')
    assert _main()([
        '--methods', 'student', '--seeds', '3', '--split', 'tune', '--pair',
        'shapes', '--custom-data', '--data-root',
        str(root), '--work-dir',
        str(work), '--out', out, '--cfg-options', 'train_cfg.max_iters=1',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False'
    ]) == 0
    record, = load_records(osp.join(out, 'results.json'))
    assert (record['split'], record['seed']) == ('tune', 3)
    assert record['ap_curve'][-1][0] == 1
    student = osp.basename(registry.student_config('shapes'))
    dumped = (work / 'tune' / 'student' / 'seed3' / student).read_text()
    assert 'instances_tune.json' in dumped
    assert 'instances_val.json' not in dumped
    assert osp.isfile(osp.join(out, 'report_tune.md'))


def test_last_fifth_gain():
    curve = [(350 * k, 0.1 * k) for k in range(1, 11)]  # 350 .. 3500
    # 80% of 3500 = 2800, a validation point: 1.0 - 0.8
    assert last_fifth_gain(curve) == pytest.approx(0.2)
    # no point at 80%: the latest before it (700 of 1000 -> 0.7)
    assert last_fifth_gain([(1000, 0.9), (350, 0.35),
                            (700, 0.7)]) == pytest.approx(0.2)
    assert last_fifth_gain([(100, 0.5)]) is None
    assert last_fifth_gain([(900, 0.5), (1000, 0.6)]) is None


@pytest.mark.parametrize('tool', [TOOL, QUICKSTART])
@pytest.mark.parametrize(
    'bad', [['--jobs', '0'], ['--cores', '-1'], ['--jobs', 'two']])
def test_cli_rejects_bad_job_counts(tool, bad, capsys):
    """Both tools that launch training processes refuse a job or core count
    below 1 while parsing, naming the value, before anything runs."""
    parse = runpy.run_path(tool)['parse_args']
    with pytest.raises(SystemExit):
        parse(bad)
    assert f"invalid count '{bad[1]}'" in capsys.readouterr().err
    args = parse(['--jobs', '3', '--cores', '2'])
    assert (args.jobs, args.cores) == (3, 2)


def test_progress_line_is_short_and_names_the_run():
    from mmkd_det.analysis.comparison_runs import progress_line
    state = {'start': 0.0}
    train = ('12/07 13:56:53 - mmengine - INFO - Iter(train) [ 700/7000]  '
             'lr: 3.0e-02  eta: 0:06:00  time: 0.05  loss: 0.8')
    val = ('12/07 13:57:10 - mmengine - INFO - Iter(val) [32/32]    '
           'coco/bbox_mAP: 0.3240  coco/bbox_mAP_50: 0.6000  '
           'coco/bbox_mAP_l: -1.0000  coco/d_ece: 0.0800')
    assert progress_line('val/kd/seed0', val, state) is None  # no iter yet
    assert progress_line('val/kd/seed0', train, state) is None
    line = progress_line('val/kd/seed0', val, state)
    assert line.startswith('  [val/kd/seed0] 700/7000  AP 32.4  ')
    assert 'ETA' in line and 'mAP_l' not in line and len(line) < 80


def test_print_line_writes_text_and_newline_at_once(monkeypatch):
    """Runs executing in parallel threads log through print_line; one write
    per line keeps two runs' lines apart (print's separate newline let
    'start A' and 'start B' share a line)."""
    import sys

    from mmkd_det.analysis.comparison_runs import print_line
    writes = []

    class Recorder:

        def write(self, text):
            writes.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, 'stdout', Recorder())
    print_line('start val/kd/seed0 (1 thread(s))')
    assert writes == ['start val/kd/seed0 (1 thread(s))\n']


def test_committed_records_resume_in_a_fresh_work_dir(tmp_path, fake_root,
                                                      capsys):
    """An earlier sitting's records (results.json, committed) count as
    finished runs even when their folders are gone, e.g. in a fresh clone;
    a teacher is trained again (its checkpoint is needed)."""
    main = _main()
    out = str(tmp_path / 'out')
    argv = [
        '--methods', 'kd', '--seeds', '0', '--data-root', fake_root, '--out',
        out, '--cfg-options', 'train_cfg.max_iters=4'
    ]
    trainer = FakeTrainer()
    assert main(
        argv + ['--work-dir', str(tmp_path / 'w1')], run_command=trainer) == 0
    assert trainer.calls == ['val/student/seed0', 'val/kd/seed0']
    trainer = FakeTrainer()
    assert main(
        argv + ['--work-dir', str(tmp_path / 'w2')], run_command=trainer) == 0
    assert trainer.calls == []
    capsys.readouterr()
    assert main(argv + ['--work-dir', str(tmp_path / 'w2'), '--dry-run']) == 0
    assert capsys.readouterr().out.split()[::2] == ['done', 'done']
    # the teacher's record alone is not enough: it is trained again
    trainer = FakeTrainer()
    assert main(
        argv + ['--train-teacher', '--work-dir',
                str(tmp_path / 'w4')],
        run_command=trainer) == 0
    assert trainer.calls == ['val/teacher/seed0', 'val/kd/seed0']
    # its checkpoint gone, the teacher is trained again; the distilled run
    # of that same teacher path is not
    os.remove(
        str(tmp_path / 'w4' / 'val' / 'teacher' / 'seed0' / 'iter_4.pth'))
    trainer = FakeTrainer()
    assert main(
        argv + ['--train-teacher', '--work-dir',
                str(tmp_path / 'w4')],
        run_command=trainer) == 0
    assert trainer.calls == ['val/teacher/seed0']
    # another config is not covered by them
    trainer = FakeTrainer()
    assert main(
        argv[:-1] +
        ['train_cfg.max_iters=6', '--work-dir',
         str(tmp_path / 'w3')],
        run_command=trainer) == 0
    assert trainer.calls == ['val/student/seed0', 'val/kd/seed0']
