"""The quickstart beside the committed reference: where a run falls, when
it is comparable, and the quickstart's own runs (stub trainer)."""
import os.path as osp

from conftest import FakeTrainer, load_tool

from mmkd_det.analysis.comparison import final_config
from mmkd_det.analysis.comparison_report import (differences, position,
                                                 reference_table)
from mmkd_det.analysis.records import load_records
from mmkd_det.utils.methods import shipped_teacher


def _record(method, seed, ap, **extra):
    record = dict(
        method=method,
        seed=seed,
        split='val',
        pair='shapes',
        bbox_mAP=ap,
        config=f'configs/{method}.py',
        settings={'w': 1},
        final_iter=3500)
    record.update(extra)
    return record


def test_position_in_words():
    ref = [0.50, 0.52, 0.54]  # mean 0.52, std 0.02
    assert position(0.51, ref) == 'inside the seed range'
    assert position(0.55, ref) == 'within 2 std (z = +1.5)'
    assert position(0.44, ref) == 'OUTSIDE: z = -4.0'
    assert position(0.53, [0.50]) == '+3.00 AP from the reference'


def test_differences_name_what_makes_runs_incomparable():
    ref = [_record('kd', 0, 0.5), _record('kd', 1, 0.5)]
    assert differences(_record('kd', 0, 0.4), ref) == []
    assert differences(_record('kd', 0, 0.4, final_iter=100),
                       ref) == ['final_iter']
    assert differences(
        _record('kd', 0, 0.4, settings={'w': 2}, split='tune'),
        ref) == ['settings', 'split']


def test_reference_table_rows():
    reference = [_record('kd', s, ap) for s, ap in enumerate((.5, .52, .54))]
    reference.append(_record('kd', 0, 0.9, split='tune'))  # other split
    table = reference_table([
        _record('kd', 0, 0.53),
        _record('luminet', 0, 0.5),
        _record('kd', 0, 0.53, settings={'w': 3}),
    ], reference).splitlines()
    assert table[2] == ('| kd | 53.00 | 52.00 ± 2.00 | 3 | 50.00 - 54.00 | '
                        'inside the seed range |')
    assert table[3].endswith('| no reference for this method |')
    assert table[4].endswith('| not comparable: other settings |')


def test_quickstart_runs_the_comparison_config_and_prints_the_reference(
        tmp_path, capsys):
    tool = load_tool('quickstart.py')
    compare = load_tool('analysis/compare_methods.py')
    data = str(tmp_path / 'data')
    reference = tmp_path / 'reference' / 'results.json'
    common = ['--data-root', data, '--cfg-options', 'train_cfg.max_iters=4']
    trainer = FakeTrainer()
    assert tool.main(
        [
            '--work-dir',
            str(tmp_path / 'qs'), '--num-train', '4', '--num-val', '2',
            '--reference',
            str(reference), '--cores', '2'
        ] + common,
        run_command=trainer) == 0
    # the shipped teacher teaches: no teacher run
    assert sorted(trainer.calls) == [
        'val/kd/seed0', 'val/luminet/seed0', 'val/student/seed0'
    ]
    assert set(trainer.threads.values()) == {'1'}  # 2 jobs on 2 cores
    out = capsys.readouterr().out
    assert '| kd | 23.00 | — | 0 | — | no reference for this method |' in out
    records = load_records(str(tmp_path / 'qs' / 'results.json'))
    assert {
        o
        for r in records
        for o in r['options'] if o.startswith('model.teacher.checkpoint=')
    } == {f'model.teacher.checkpoint={shipped_teacher("digits")}'}

    # a 3-seed comparison of the same runs is the reference
    assert compare.main(
        [
            '--methods', 'kd', 'luminet', '--seeds', '0', '1', '2',
            '--custom-data', '--work-dir',
            str(tmp_path / 'cmp'), '--out',
            str(reference.parent)
        ] + common,
        run_command=FakeTrainer()) == 0
    trainer = FakeTrainer()
    assert tool.main(
        [
            '--work-dir',
            str(tmp_path / 'qs'), '--num-train', '4', '--num-val', '2',
            '--reference',
            str(reference)
        ] + common,
        run_command=trainer) == 0
    assert trainer.calls == []  # finished runs are kept
    out = capsys.readouterr().out
    # stub AP: 0.2 + 0.01 * seed (+ 0.03 distilled); seed 0 is the lowest
    assert ('| kd | 23.00 | 24.00 ± 1.00 | 3 | 23.00 - 25.00 | inside the '
            'seed range |') in out
    assert '| student | 20.00 | 21.00 ± 1.00 | 3 |' in out
    records = load_records(str(tmp_path / 'qs' / 'results.json'))
    quick = {r['method']: r for r in records}
    ref = {(r['method'], r['seed']): r for r in load_records(str(reference))}
    # same per-run configuration as the comparison's seed 0
    for method in ('student', 'kd', 'luminet'):
        assert quick[method]['config'] == ref[(method, 0)]['config']
        assert quick[method]['settings'] == ref[(method, 0)]['settings']
        assert quick[method]['dataset'] == ref[(method, 0)]['dataset']
    assert quick['kd']['dataset']['args']['num_train'] == 4
    kd_cfg = final_config(
        osp.join(tool.REPO_ROOT, quick['kd']['config']), [
            o for o in quick['kd']['options']
            if not o.startswith('model.teacher')
        ], data)
    assert kd_cfg.train_cfg.max_iters == 4
