"""Per-RoI gradient measure against the closed forms of KD and CE."""
import pytest
import torch

from mmkd_det.analysis.tune_grid import (cross_entropy_grad_norm,
                                         gradient_table, per_roi_grad_norm)
from mmkd_det.models.losses import LogitKDLoss


def logits(seed=0, n=32, c=9):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g) * 2,
            torch.randn(n, c, generator=g) * 2,
            torch.randint(0, c, (n, ), generator=g))


def test_kd_and_ce_gradients_match_their_closed_forms():
    s, t, y = logits()
    # KD at T=1: d/dz_s of mean_i KL(p_t || p_s) is (p_s - p_t) / N
    expected = (s.softmax(1) - t.softmax(1)).norm(dim=1).mean().item()
    kd = LogitKDLoss(temperature=1.0, loss_weight=1.0)
    assert per_roi_grad_norm(kd, s, t, y) == pytest.approx(expected, 1e-5)
    onehot = torch.nn.functional.one_hot(y, 9).float()
    expected_ce = (s.softmax(1) - onehot).norm(dim=1).mean().item()
    assert cross_entropy_grad_norm(s, y) == pytest.approx(expected_ce, 1e-5)


def test_table_ratios_and_matching_scale():
    batches = [logits(seed) for seed in range(3)]
    table = gradient_table(
        {
            'kd': LogitKDLoss(loss_weight=1.0),
            'kd_x3': LogitKDLoss(loss_weight=3.0)
        },
        batches,
        reference='kd')
    rows = {r['name']: r for r in table}
    assert rows['kd']['vs_reference'] == pytest.approx(1.0)
    assert rows['kd_x3']['vs_reference'] == pytest.approx(3.0, 1e-5)
    assert rows['kd_x3']['matching_scale'] == pytest.approx(1 / 3, 1e-5)
    ce = sum(cross_entropy_grad_norm(s, y) for s, _, y in batches) / 3
    assert rows['kd']['vs_ce'] == pytest.approx(rows['kd']['grad'] / ce)
    with pytest.raises(KeyError, match='reference'):
        gradient_table({'kd': LogitKDLoss()}, batches, reference='dkd')
    with pytest.raises(ValueError, match='empty'):
        gradient_table({'kd': LogitKDLoss()}, [], reference='kd')


@pytest.mark.slow
def test_tool_on_real_rois(shapes_root, teacher_checkpoint, capsys):
    import os.path as osp

    from conftest import CONFIGS, load_tool
    kd, luminet = (
        osp.join(CONFIGS, 'distill', m, f'{m}_shapes.py')
        for m in ('kd', 'luminet'))
    tool = load_tool('analysis/gradient_scale.py')
    tool.main([
        kd, luminet, '--teacher-checkpoint', teacher_checkpoint, '--batches',
        '1', '--temperatures', '2', '--data-root', shapes_root,
        '--cfg-options', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False'
    ])
    rows = [
        line.split('|') for line in capsys.readouterr().out.splitlines()
        if line.startswith('| kd:') or line.startswith('| luminet:')
    ]
    assert [r[1].strip() for r in rows] == [
        'kd:loss_kd_cls', 'luminet:loss_kd_cls', 'luminet:loss_kd_cls@T2'
    ]
    assert float(rows[0][4]) == 1.0  # the reference against itself
    assert float(rows[1][3]) > 0 and float(rows[1][6]) > 0
    assert "'temperature': 2.0" in rows[2][2]
    # the matching loss_weight is the weight times reference / grad
    for row in rows[1:]:
        weight = float(row[2].split("'loss_weight': ")[1].split(',')[0])
        assert float(row[6]) == pytest.approx(weight / float(row[4]), rel=2e-2)
