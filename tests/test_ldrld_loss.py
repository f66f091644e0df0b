"""Tests of the LDRLD loss: hand cases, a loop reference, edges, errors."""
import itertools
import math

import numpy as np
import pytest
import torch

from mmkd_det.models.losses import LDRLDLoss, ldrld_loss, zscore


def np_kl_softmax(t, s, T):
    """KL(softmax(t/T) || softmax(s/T)) of two 1-D float64 arrays."""
    p = np.exp(t / T - np.logaddexp.reduce(t / T))
    log_q = s / T - np.logaddexp.reduce(s / T)
    return float((p * (np.log(p) - log_q)).sum())


def loop_reference(s, t, k, T, a, b):
    """Straightforward per-RoI, per-group LDRLD (float64, python loops)."""
    out = []
    for srow, trow in zip(s.double().numpy(), t.double().numpy()):
        order = sorted(range(len(srow)), key=lambda c: -srow[c])  # stable
        top, rest = order[:k], order[k:]
        total = 0.0
        for r1, r2 in itertools.combinations(range(1, k + 1), 2):
            cls = [top[r1 - 1], top[r2 - 1]]
            w = 2 / (1.5 + abs(r1 - r2)) * math.exp(-0.05 * (r1 + r2))
            total += w * np_kl_softmax(trow[cls], srow[cls], T)
        # all-k group: weight 1, except at k=2, where it is the one pair
        # and the official code gives it that pair's weight
        all_w = w if k == 2 else 1.0
        total += all_w * np_kl_softmax(trow[top], srow[top], T)
        ldrld = T**2 * total / (k * (k - 1) // 2 + 1)
        rntk = (
            T**2 * np_kl_softmax(trow[rest], srow[rest], T)
            if len(rest) >= 2 else 0.0)
        out.append(a * ldrld + b * rntk)
    return torch.tensor(out, dtype=torch.float64)


def test_k2_hand_case():
    # Top-2 by the student = classes 0, 1; the one left (class 2): RNTK = 0.
    s = torch.tensor([[3., 2., 1.]])
    t = torch.tensor([[1., 2., 0.]])
    # softmax([1,2]) = [.268941, .731059], softmax([3,2]) reversed, so
    # KL = (.731059 - .268941) * ln(.731059/.268941) = .462117 * 1.
    kl = 0.4621172
    w12 = 2 / 2.5 * math.exp(-0.05 * 3)  # 0.8 * 0.860708 = 0.688566
    # pair + all-k group, averaged over 2; at k=2 the all-k group is the
    # pair and takes its decay weight (official code), not 1
    expected = (w12 * kl + w12 * kl) / 2
    assert expected == pytest.approx(0.318198, abs=1e-6)
    m = LDRLDLoss(k=2, temperature=1.0, ldrld_weight=1.0, rntk_weight=5.0)
    assert m(s, t).item() == pytest.approx(expected, rel=1e-5)


def test_k3_hand_case_with_rntk():
    # Student order: class 1 (5) > 3 (4) > 2 (3) > 4 (1) > 0 (0).
    s = torch.tensor([[0., 5., 3., 4., 1.]])
    t = torch.tensor([[1., 0., 2., 0., -1.]])
    T = 2.0
    sn, tn = s[0].double().numpy(), t[0].double().numpy()
    groups = [
        ([1, 3], 2 / 2.5 * math.exp(-0.05 * 3)),  # ranks 1, 2
        ([1, 2], 2 / 3.5 * math.exp(-0.05 * 4)),  # ranks 1, 3
        ([3, 2], 2 / 2.5 * math.exp(-0.05 * 5)),  # ranks 2, 3
        ([1, 3, 2], 1.0)
    ]  # the all-k group
    ldrld = T**2 * sum(w * np_kl_softmax(tn[g], sn[g], T)
                       for g, w in groups) / 4
    rntk = T**2 * np_kl_softmax(tn[[4, 0]], sn[[4, 0]], T)
    assert rntk > 0
    got = LDRLDLoss(
        k=3,
        temperature=T,
        ldrld_weight=10.5,
        rntk_weight=7.0,
        reduction='none')(s, t)
    assert got.item() == pytest.approx(10.5 * ldrld + 7.0 * rntk, rel=1e-5)
    # The two terms separately.
    only_ldrld = ldrld_loss(s, t, 3, T, ldrld_weight=1.0, rntk_weight=0.0)
    only_rntk = ldrld_loss(s, t, 3, T, ldrld_weight=0.0, rntk_weight=1.0)
    assert only_ldrld.item() == pytest.approx(ldrld, rel=1e-5)
    assert only_rntk.item() == pytest.approx(rntk, rel=1e-5)


@pytest.mark.parametrize('k,c', [(2, 5), (3, 9), (7, 81), (7, 8), (6, 6)])
def test_vectorised_matches_loop_reference(k, c):
    g = torch.Generator().manual_seed(k * 100 + c)
    s = torch.randn(9, c, generator=g) * 3
    t = torch.randn(9, c, generator=g) * 3
    got = LDRLDLoss(k=k, temperature=4.0, reduction='none')(s, t)
    ref = loop_reference(s, t, k, 4.0, 10.5, 7.0)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-6)


def test_ranking_is_on_normalized_student_logits():
    g = torch.Generator().manual_seed(7)
    s, t = torch.randn(5, 10, generator=g), torch.randn(5, 10, generator=g)
    got = LDRLDLoss(k=4, logit_norm='zscore', reduction='none')(s, t)
    ref = loop_reference(zscore(s), zscore(t), 4, 4.0, 10.5, 7.0)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-6)


def test_pair_buffers():
    m = LDRLDLoss(k=7)
    assert m.pair_index.shape == (21, 2) and m.pair_weight.shape == (21, )
    assert m.pair_weight[0].item() == pytest.approx(0.8 * math.exp(-0.15))
    # Derived from k: not part of the checkpoint.
    assert 'pair_index' not in m.state_dict()


def test_gradients_student_only_and_gradcheck():
    s = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    t = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    m = LDRLDLoss(k=3, temperature=2.0)
    assert torch.autograd.gradcheck(lambda x: m(x, t.detach()), (s, ))
    m(s, t).backward()
    assert t.grad is None and s.grad.abs().sum() > 0


def test_edge_cases():
    m = LDRLDLoss(k=3)
    s = torch.zeros(0, 5, requires_grad=True)
    loss = m(s, torch.zeros(0, 5))
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    # Ties everywhere / a single RoI / fp16 with large logits.
    for s, t in [(torch.zeros(2, 5), torch.zeros(2, 5)),
                 (torch.randn(1, 5), torch.randn(1, 5)),
                 (torch.randn(6, 5).half() * 300, torch.randn(6, 5).half())]:
        s = s.clone().requires_grad_()
        loss = m(s, t)
        loss.backward()
        assert loss.dtype == torch.float32
        assert torch.isfinite(loss) and torch.isfinite(s.grad).all()


def test_errors():
    for bad_k in (1, 0, 2.5):
        with pytest.raises(ValueError, match='k >= 2'):
            LDRLDLoss(k=bad_k)
    with pytest.raises(ValueError, match='temperature'):
        LDRLDLoss(temperature=0.0)
    with pytest.raises(ValueError, match=r'k=7 exceeds .* C=5'):
        LDRLDLoss(k=7)(torch.randn(3, 5), torch.randn(3, 5))
    with pytest.raises(ValueError, match=r'\(3, 8\).*\(3, 9\)'):
        LDRLDLoss()(torch.randn(3, 8), torch.randn(3, 9))
