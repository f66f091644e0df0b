"""The committed reference (benchmarks/shapes) belongs to the committed code.

The 3-seed table of ``benchmarks/shapes/README.md``, ``results.json``, the
tuning grid tables and the distillation configs must tell one story: every
record measured today's config of its method on the default shapes
dataset, the table is the rendering of those records, and each tuned
method's config holds its best point on the ``tune`` split. A config
changed without re-running the comparison fails here.
"""
import os.path as osp

import pytest

from mmkd_det.analysis.comparison_plan import plan_comparison
from mmkd_det.analysis.comparison_report import (render_comparison,
                                                 render_tune_table)
from mmkd_det.analysis.records import RESULTS_FILE, load_records
from mmkd_det.analysis.tune_grid import SHAPES_TUNE_GRIDS as TUNE_GRIDS
from mmkd_det.datasets.shapes import meta_args_mismatch
from mmkd_det.utils.methods import METHODS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BENCH = osp.join(REPO, 'benchmarks', 'shapes')
SEEDS = (0, 1, 2)


@pytest.fixture(scope='module')
def records():
    return [
        r for r in load_records(osp.join(BENCH, RESULTS_FILE))
        if r.get('pair') == 'shapes'
    ]


@pytest.fixture(scope='module')
def planned(tmp_path_factory):
    """Today's run specs of every method (one seed: the settings do not
    depend on it), by method."""
    root = str(tmp_path_factory.mktemp('plan'))
    teacher, runs = plan_comparison(
        list(METHODS) + ['teacher'], [0],
        'val',
        osp.join(root, 'runs'),
        osp.join(root, 'data'),
        pair='shapes')
    return {spec.method: spec for spec in [teacher] + runs}


def _val(records):
    return [r for r in records if r['split'] == 'val']


def test_val_records_cover_every_method_and_seed(records, planned):
    found = {(r['method'], r['seed']) for r in _val(records)}
    expected = {('teacher', 0)} | {(m, s)
                                   for m in planned if m != 'teacher'
                                   for s in SEEDS}
    assert found == expected


def test_records_measure_the_committed_configs(records, planned):
    for record in records:
        spec = planned[record['method']]
        where = f"{record['split']}/{record['method']}/seed{record['seed']}"
        assert record['config'] == osp.relpath(spec.config, REPO), where
        assert record['final_iter'] == spec.max_iters, where
        if record.get('tune_point') is None:
            assert record['settings'] == spec.settings, where
        # made on the generator's default dataset
        assert meta_args_mismatch(record['dataset']) is None, where


def test_readme_table_is_the_committed_results(records):
    with open(osp.join(BENCH, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    assert render_comparison(_val(records)) in readme


@pytest.mark.parametrize('method', sorted(TUNE_GRIDS))
def test_tuned_config_is_the_best_grid_point(records, planned, method):
    tune = [r for r in records if r['split'] == 'tune']
    points = [r for r in tune if r['method'] == method]
    grid = TUNE_GRIDS[method]
    assert len(points) == len(grid['points'])
    # the grid table kept beside the results is these records' rendering
    student = next(r for r in tune if r['method'] == 'student')
    with open(osp.join(BENCH, f'tune_{method}.md'), encoding='utf-8') as f:
        assert render_tune_table(method, points, student) in f.read()
    best = max(r['bbox_mAP'] for r in points)
    loss = planned[method].settings['logit_losses'][grid['loss_key']]
    warmup = planned[method].settings['distill_warmup_fraction']
    chosen = [
        r for r in points if r['bbox_mAP'] == best
        and r['settings']['logit_losses'][grid['loss_key']] == loss
        and r['settings']['distill_warmup_fraction'] == warmup
    ]
    assert chosen, f'{method}: the config is not its best tune point'
