"""Tests of the logit normalizations and the KD / DKD logit losses.

Expected values come from hand computation or an independent numpy/float64
implementation written here, never from the functions under test.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import load_tool

from mmkd_det.models.losses import (DKDLoss, LDRLDLoss, LogitKDLoss,
                                    build_logit_norm, dkd_loss, kd_loss,
                                    perception, zscore)


# ---------------------------------------------------------------- numpy refs
def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_kl(p, q):
    """KL(p || q) per row."""
    return (p * (np.log(p) - np.log(q))).sum(-1)


def np_perception(z, eps=1e-5):
    return (z - z.mean(0)) / np.sqrt(z.var(0) + eps)  # numpy var is biased


def np_zscore(z, eps=1e-7):
    return (z - z.mean(1, keepdims=True)) / (
        z.std(1, ddof=1, keepdims=True) + eps)


def rand_pair(n=6, c=5, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    s = (torch.randn(n, c, generator=g) * scale).requires_grad_()
    t = torch.randn(n, c, generator=g) * scale
    y = torch.randint(0, c, (n, ), generator=g)
    return s, t, y


ALL_LOSSES = [
    ('kd', lambda: LogitKDLoss()),
    ('perception', lambda: LogitKDLoss('perception', temperature=2.0)),
    ('zscore', lambda: LogitKDLoss('zscore', temperature=2.0)),
    ('dkd', lambda: DKDLoss()),
    ('zscore_dkd', lambda: DKDLoss(logit_norm='zscore', temperature=2.0)),
    ('ldrld', lambda: LDRLDLoss(k=3)),
]


# ------------------------------------------------------------ normalizations
def test_perception_hand_matrix():
    z = torch.tensor([[1., 2., 0.], [3., 2., 4.], [5., 2., 2.]])
    # col0: mean 3, biased var 8/3; col1 constant; col2: mean 2, var 8/3.
    a = 2 / math.sqrt(8 / 3 + 1e-5)  # = 1.2247...
    expected = torch.tensor([[-a, 0., -a], [0., 0., a], [a, 0., 0.]])
    assert a == pytest.approx(1.2247426, abs=1e-6)
    torch.testing.assert_close(perception(z), expected, atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        perception(z).numpy(), np_perception(z.double().numpy()), atol=1e-6)


def test_zscore_hand_matrix():
    z = torch.tensor([[1., 2., 3., 6.], [2., 2., 2., 2.]])
    # row0: mean 3, deviations (-2,-1,0,3), unbiased var 14/3 -> std 2.1602
    std = math.sqrt(14 / 3)
    assert std == pytest.approx(2.1602469, abs=1e-6)
    expected = torch.tensor([[-2., -1., 0., 3.], [0., 0., 0., 0.]])
    expected[0] /= std + 1e-7
    torch.testing.assert_close(zscore(z), expected, atol=1e-6, rtol=0)
    assert zscore(z)[0, 3].item() == pytest.approx(1.3887301, abs=1e-6)
    np.testing.assert_allclose(
        zscore(z[:1]).numpy(), np_zscore(z[:1].double().numpy()), atol=1e-6)


def test_batch_vs_row_statistics():
    z = torch.randn(7, 5, generator=torch.Generator().manual_seed(1)) * 4 + 2
    p, q = perception(z), zscore(z)
    # perception: every column ~N(0, 1) over the rows (biased variance).
    torch.testing.assert_close(p.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        p.var(0, unbiased=False), torch.ones(5), atol=1e-4, rtol=0)
    # zscore: every row has mean 0 and UNBIASED std 1 over the classes.
    torch.testing.assert_close(q.mean(1), torch.zeros(7), atol=1e-5, rtol=0)
    torch.testing.assert_close(q.std(1), torch.ones(7), atol=1e-5, rtol=0)
    # A row's perception depends on the other rows; its zscore does not.
    z2 = z.clone()
    z2[3:] += 10 * torch.arange(1., 6.)
    assert not torch.allclose(perception(z2)[0], p[0])
    torch.testing.assert_close(zscore(z2)[0], q[0])


def test_build_logit_norm():
    z = torch.randn(4, 3)
    assert build_logit_norm(None) is None
    torch.testing.assert_close(
        build_logit_norm('perception')(z), perception(z))
    torch.testing.assert_close(build_logit_norm('zscore')(z), zscore(z))
    with pytest.raises(ValueError, match="'perception', 'zscore' or None"):
        build_logit_norm('batchnorm')
    with pytest.raises(ValueError, match='sync_stats'):
        build_logit_norm('zscore', sync_stats=True)


def test_normalizations_gradcheck_and_safe():
    z = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(perception, (z, ))
    assert torch.autograd.gradcheck(zscore, (z, ))
    # Constant row (zscore) / constant column + single row (perception):
    # outputs 0, gradients finite (Tensor.std would give NaN here).
    c = torch.full((1, 4), 3.0, requires_grad=True)
    for fn in (perception, zscore):
        out = fn(c)
        (out * torch.arange(4.)).sum().backward()
        assert torch.equal(out, torch.zeros_like(out))
        assert torch.isfinite(c.grad).all()
        c.grad = None


# ----------------------------------------------------------------------- KD
@pytest.mark.parametrize('norm,np_norm', [(None, lambda x: x),
                                          ('perception', np_perception),
                                          ('zscore', np_zscore)])
def test_kd_t2_scaling_against_numpy(norm, np_norm):
    s, t, _ = rand_pair(n=6, c=5)
    T, w = 3.0, 0.7
    loss = LogitKDLoss(norm, temperature=T, loss_weight=w)(s, t)
    hs = np_norm(s.detach().double().numpy())
    ht = np_norm(t.double().numpy())
    kl = np_kl(np_softmax(ht / T), np_softmax(hs / T)).mean()  # batchmean
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(w * T**2 * kl, rel=1e-5)


def test_kd_loss_matches_torch_kl_div_batchmean():
    s, t, _ = rand_pair(n=5, c=4)
    T = 2.0
    ref = F.kl_div(
        F.log_softmax(s / T, 1), F.softmax(t / T, 1),
        reduction='batchmean') * T**2
    torch.testing.assert_close(kd_loss(s, t, T).mean(), ref)


def test_perception_gradient_flows_through_student_stats():
    s, t, _ = rand_pair(n=5, c=4, seed=3)
    loss = LogitKDLoss('perception', temperature=2.0)(s, t)
    g, = torch.autograd.grad(loss, s)

    # Independent torch implementation with live stats vs frozen stats.
    def manual(detach_stats):
        mean, var = s.mean(0), s.var(0, unbiased=False)
        if detach_stats:
            mean, var = mean.detach(), var.detach()
        hs = (s - mean) / torch.sqrt(var + 1e-5)
        ht = (t - t.mean(0)) / torch.sqrt(t.var(0, unbiased=False) + 1e-5)
        return F.kl_div(
            F.log_softmax(hs / 2, 1),
            F.softmax(ht / 2, 1),
            reduction='batchmean') * 4

    g_live, = torch.autograd.grad(manual(False), s)
    g_frozen, = torch.autograd.grad(manual(True), s)
    torch.testing.assert_close(g, g_live)
    assert not torch.allclose(g, g_frozen, atol=1e-4)


# ---------------------------------------------------------------------- DKD
def test_dkd_parts_hand_example():
    s = torch.tensor([[1., 2., 0.]], requires_grad=True)
    t = torch.tensor([[2., 1., 0.]])
    y = torch.tensor([0])
    ps, pt = np_softmax(np.array([1., 2.,
                                  0.])), np_softmax(np.array([2., 1., 0.]))
    # TCKD: binary [p_target, 1 - p_target]; target = class 0.
    tckd = np_kl(np.array([pt[0], 1 - pt[0]]), np.array([ps[0], 1 - ps[0]]))
    # NCKD: softmax over the non-target classes {1, 2} only.
    nckd = np_kl(
        np_softmax(np.array([1., 0.])), np_softmax(np.array([2., 0.])))
    # By hand: p_t = 0.6652 (teacher) / 0.2447 (student) ->
    # 0.6652 ln(0.6652/0.2447) + 0.3348 ln(0.3348/0.7553) = 0.3929;
    # non-target softmax [0.7311, 0.2689] vs [0.8808, 0.1192] -> 0.0826.
    assert tckd == pytest.approx(0.3929, abs=1e-4)
    assert nckd == pytest.approx(0.0826, abs=1e-4)
    got_t = DKDLoss(alpha=1.0, beta=0.0)(s, t, y)
    got_n = DKDLoss(alpha=0.0, beta=1.0)(s, t, y)
    assert got_t.item() == pytest.approx(tckd, rel=1e-5)
    assert got_n.item() == pytest.approx(nckd, rel=1e-5)
    # Combination with T^2 and loss_weight at T=2.
    ps2, pt2 = np_softmax(np.array([.5, 1.,
                                    0.])), np_softmax(np.array([1., .5, 0.]))
    tckd2 = np_kl(
        np.array([pt2[0], 1 - pt2[0]]), np.array([ps2[0], 1 - ps2[0]]))
    nckd2 = np_kl(
        np_softmax(np.array([.5, 0.])), np_softmax(np.array([1., 0.])))
    got = DKDLoss(
        alpha=1.0, beta=0.25, temperature=2.0, loss_weight=3.0)(s, t, y)
    assert got.item() == pytest.approx(
        3 * 4 * (tckd2 + 0.25 * nckd2), rel=1e-5)


def _dkd_public_style(s, t, y, alpha, beta, T):
    """The public DKD code's formulation (masks + cat + log of probs)."""
    gt = F.one_hot(y, s.shape[1]).float()
    other = 1 - gt
    ps, pt = F.softmax(s / T, 1), F.softmax(t / T, 1)

    def cat_mask(p):
        return torch.stack([(p * gt).sum(1), (p * other).sum(1)], 1)

    tckd = F.kl_div(
        torch.log(cat_mask(ps)), cat_mask(pt),
        reduction='sum') * T**2 / s.shape[0]
    nckd = F.kl_div(
        F.log_softmax(s / T - 1000.0 * gt, 1),
        F.softmax(t / T - 1000.0 * gt, 1),
        reduction='sum') * T**2 / s.shape[0]
    return alpha * tckd + beta * nckd


def test_dkd_matches_public_formulation_and_zscore():
    s, t, y = rand_pair(n=8, c=6, seed=5)
    got = DKDLoss(alpha=1.0, beta=8.0, temperature=4.0)(s, t, y)
    torch.testing.assert_close(got, _dkd_public_style(s, t, y, 1., 8., 4.))
    got = DKDLoss(
        alpha=1.0, beta=8.0, temperature=2.0, logit_norm='zscore')(s, t, y)
    ref = _dkd_public_style(zscore(s), zscore(t), y, 1., 8., 2.)
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(
        dkd_loss(s, t, y, 1.0, 8.0, 4.0).mean(),
        _dkd_public_style(s, t, y, 1., 8., 4.))


def test_dkd_confident_model_is_finite():
    # p_target == 1 in fp32: the public log(1 - p_t) would be log(0).
    s = torch.tensor([[60., 0., -50.], [0., 0., 0.]], requires_grad=True)
    t = torch.tensor([[80., -10., 0.], [0., 90., 0.]])
    loss = DKDLoss(beta=1.0)(s, t, torch.tensor([0, 2]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()


# ------------------------------------------------------ protocol and errors
def test_mmdet_reduction_protocol():
    s, t, y = rand_pair(n=6, c=5)
    w = torch.tensor([1., 0., 2., 1., 1., 0.5])
    for _, make in ALL_LOSSES:
        m = make()
        per_roi = m(s, t, y, reduction_override='none')
        assert per_roi.shape == (6, ) and (per_roi >= -1e-6).all()
        torch.testing.assert_close(m(s, t, y), per_roi.mean())
        torch.testing.assert_close(
            m(s, t, y, reduction_override='sum'), per_roi.sum())
        torch.testing.assert_close(
            m(s, t, y, weight=w, avg_factor=4.0), (per_roi * w).sum() / 4.0)
        m.loss_weight = 2.5
        torch.testing.assert_close(m(s, t, y), 2.5 * per_roi.mean())


def test_registry_builds_losses():
    from mmdet.registry import MODELS
    m = MODELS.build(
        dict(type='LogitKDLoss', logit_norm='perception', temperature=2.0))
    assert isinstance(m, LogitKDLoss) and m.temperature == 2.0
    assert isinstance(MODELS.build(dict(type='DKDLoss')), DKDLoss)
    assert isinstance(MODELS.build(dict(type='LDRLDLoss', k=5)), LDRLDLoss)


@pytest.mark.parametrize('name,make', ALL_LOSSES)
def test_grads_reach_student_not_teacher(name, make):
    s, t, y = rand_pair(n=6, c=5)
    t.requires_grad_()
    make()(s, t, y).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert torch.isfinite(s.grad).all()
    assert t.grad is None


@pytest.mark.parametrize('name,make', ALL_LOSSES)
def test_gradcheck_float64(name, make):
    s, t, y = rand_pair(n=4, c=5, seed=11, scale=1.0)
    s = s.detach().double().requires_grad_()
    m = make()
    assert m(s, t.double(), y).dtype == torch.float64  # fp64 is kept
    assert torch.autograd.gradcheck(lambda x: m(x, t.double(), y), (s, ))


def test_perception_constant_column_is_exact_at_large_n():
    z = torch.randn(4096, 9, generator=torch.Generator().manual_seed(2)) * 3
    z[:, 4] = 7.3  # a class no RoI distinguishes
    h = perception(z)
    assert torch.equal(h[:, 4], torch.zeros(4096))
    np.testing.assert_allclose(
        h.numpy(), np_perception(z.double().numpy()), atol=1e-4)


@pytest.mark.parametrize('name,make', ALL_LOSSES)
def test_edge_cases(name, make):
    m = make()
    # Empty RoI set: a graph-connected zero; 'none' gives an empty vector.
    s = torch.zeros(0, 5, requires_grad=True)
    t, y = torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)
    loss = m(s, t, y)
    assert loss.shape == () and loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert s.grad.shape == (0, 5)
    assert m(s, t, y, reduction_override='none').shape == (0, )
    # Single RoI (perception variance 0), a constant row and a constant
    # column (zero variance for zscore / perception).
    cases = [
        torch.randn(1, 5),
        torch.tensor([[2., 2., 2., 2., 2.], [1., 5., 2., 0., 3.]]),
        torch.tensor([[1., 7., 2., 0., 3.], [4., 7., 0., 1., 2.]]),
    ]
    for z in cases:
        s = z.clone().requires_grad_()
        loss = m(s, z.flip(0) * 0.5, torch.zeros(len(z), dtype=torch.long))
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(s.grad).all()
    # fp16 in -> fp32 computation and result, matching the fp32 loss.
    s, t, y = rand_pair(n=6, c=5, scale=20.0)
    s16 = s.detach().half().requires_grad_()
    loss16 = m(s16, t.half(), y)
    loss16.backward()
    assert loss16.dtype == torch.float32 and torch.isfinite(loss16)
    assert s16.grad.dtype == torch.float16 and torch.isfinite(s16.grad).all()
    ref = m(s.detach().half().float(), t.half().float(), y)
    torch.testing.assert_close(loss16, ref)


@pytest.mark.parametrize('name,make', ALL_LOSSES)
def test_call_time_errors(name, make):
    m = make()
    s, t, y = rand_pair(n=4, c=5)
    with pytest.raises(ValueError, match=r'\(4, 5\).*\(4, 6\)'):
        m(s, torch.randn(4, 6), y)
    with pytest.raises(ValueError, match=r'\[0, 5\)'):
        m(s, t, torch.tensor([0, 1, 5, 2]))
    with pytest.raises(ValueError, match=r'\[0, 5\)'):
        m(s, t, torch.tensor([0, -1, 2, 2]))
    with pytest.raises(ValueError, match='reduction'):
        m(s, t, y, reduction_override='avg')


def test_construction_errors():
    for cls in (LogitKDLoss, DKDLoss, LDRLDLoss):
        for bad_t in (0.0, -1.0, float('nan')):
            with pytest.raises(ValueError, match='temperature'):
                cls(temperature=bad_t)
        with pytest.raises(ValueError, match='reduction'):
            cls(reduction='avg')
        with pytest.raises(ValueError, match='logit_norm'):
            cls(logit_norm='batchnorm')
    with pytest.raises(ValueError, match='sync_stats'):
        LogitKDLoss('zscore', sync_stats=True)
    with pytest.raises(ValueError, match='sync_stats'):
        LogitKDLoss(None, sync_stats=True)
    LogitKDLoss('perception', sync_stats=True)  # valid
    with pytest.raises(ValueError, match='logit_norm'):
        DKDLoss(logit_norm='perception')
    s, t, _ = rand_pair(n=3, c=4)
    with pytest.raises(ValueError, match='labels'):
        DKDLoss()(s, t, None)


def test_sync_stats_without_process_group_uses_local_stats():
    s, t, _ = rand_pair(n=6, c=5)
    torch.testing.assert_close(
        LogitKDLoss('perception', sync_stats=True)(s, t),
        LogitKDLoss('perception')(s, t))


# ---------------------------------------------------------------- benchmark
def test_benchmark_losses_times_every_loss(capsys):
    tool = load_tool('analysis/benchmark_losses.py')
    expected = {
        'kd', 'perception_kd', 'zscore_kd', 'dkd', 'zscore_dkd', 'ldrld'
    }
    losses = tool.build_losses()
    assert set(losses) == expected
    student, teacher, labels = rand_pair(n=64, c=9)
    results = tool.time_losses(
        losses,
        student,
        teacher,
        labels,
        repeats=2,
        warmup=1,
        device=torch.device('cpu'))
    assert set(results) == expected
    for med, low in results.values():
        assert math.isfinite(med) and 0 < low <= med
    assert student.grad is None  # each call differentiates its own leaf
    # the command line, with the default thread count (no global change):
    # one row per loss, its time against KD's
    threads = torch.get_num_threads()
    capsys.readouterr()
    assert tool.main([
        '--num-rois', '64', '--num-classes', '9', '--repeats', '2', '--warmup',
        '1', '--threads', '0'
    ]) == 0
    assert torch.get_num_threads() == threads
    out = capsys.readouterr().out
    assert f' threads={threads} ' in out
    rows = {
        row[1]: [float(v) for v in row[2:]]
        for row in (line.split() for line in out.splitlines())
        if row[:1] == ['64']
    }
    assert set(rows) == expected and len(out.splitlines()) == 3 + len(rows)
    kd_med, _, kd_min, _ = rows['kd']

    def close(ratio, ms, kd_ms):
        # ratios are printed to 0.005 and come from times before their
        # rounding to 0.0005 ms
        return abs(ratio - ms / kd_ms) <= 0.006 + 6e-4 * (1 + ratio) / kd_ms

    for med, ratio, low, min_ratio in rows.values():
        assert 0 < low <= med and math.isfinite(med)
        assert close(ratio, med, kd_med) and close(min_ratio, low, kd_min)


@pytest.mark.parametrize('loss_cfg', [
    dict(type='LogitKDLoss'),
    dict(type='LogitKDLoss', logit_norm='perception'),
    dict(type='DKDLoss', logit_norm='zscore'),
    dict(type='LDRLDLoss', k=3),
])
@pytest.mark.parametrize('role', ['student', 'teacher'])
def test_non_finite_logits_raise(loss_cfg, role):
    from mmdet.registry import MODELS
    loss = MODELS.build(loss_cfg)
    student, teacher = torch.randn(6, 5), torch.randn(6, 5)
    bad = student if role == 'student' else teacher
    bad[2, 1] = float('nan')
    with pytest.raises(FloatingPointError, match=f'The {role} RoI logits'):
        loss(student, teacher, torch.tensor([0, 1, 4, 4, 2, 4]))
    bad[2, 1] = float('inf')
    with pytest.raises(FloatingPointError, match='NaN or Inf'):
        loss(student, teacher, torch.tensor([0, 1, 4, 4, 2, 4]))
