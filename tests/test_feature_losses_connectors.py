"""Tests of the FPN feature-distillation components: ReviewKD's ABF connector
and HCL loss, and the FitNet baseline (ConvAdapter + FeatureMSELoss)."""
import pytest
import torch
import torch.nn.functional as F

from mmkd_det.models.connectors import ABFConnector, ConvAdapter
from mmkd_det.models.losses import FeatureMSELoss, HCLLoss, hcl_loss

# FPN-like sizes of a 200x150 image, fine to coarse (p2..p6), odd sizes
# included (25x19 -> 13x10 -> 7x5 -> 4x3).
SIZES = [(50, 38), (25, 19), (13, 10), (7, 5), (4, 3)]
C_S, C_T, MID, B = 8, 16, 8, 2


def _feats(channels, sizes=SIZES, batch=B, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, channels, h, w,
                    generator=g).requires_grad_(requires_grad)
        for h, w in sizes
    ]


def _t(rows):
    """(1, 1, H, W) tensor from nested lists."""
    return torch.tensor(rows, dtype=torch.float32)[None, None]


# ----------------------------------------------------------------- hcl_loss
def test_hcl_4x4_hand_computed():
    # H=4: pool size 4 skipped (4 >= H); sizes 2 and 1 used, weights 1/2, 1/4.
    fs = _t([[0., 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]])
    ft = torch.zeros_like(fs)
    mse_full = sum(k * k for k in range(16)) / 16  # 77.5
    # 2x2 block means: 2.5, 4.5, 10.5, 12.5
    mse_2 = (2.5**2 + 4.5**2 + 10.5**2 + 12.5**2) / 4  # 73.25
    mse_1 = 7.5**2  # 56.25
    expected = (mse_full + mse_2 / 2 + mse_1 / 4) / (1 + 1 / 2 + 1 / 4)
    assert hcl_loss(fs, ft).item() == pytest.approx(expected, rel=1e-6)


def test_hcl_2x2_uses_only_pool_size_1():
    fs = _t([[1., 2], [3, 4]])
    ft = _t([[0., 0], [0, 1]])
    mse_full = (1 + 4 + 9 + 9) / 4  # diff [[1, 2], [3, 3]]
    mse_1 = (2.5 - 0.25)**2
    expected = (mse_full + mse_1 / 2) / (1 + 1 / 2)
    assert hcl_loss(fs, ft).item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(5.5208333, rel=1e-6)


def test_hcl_1x1_is_plain_mse():
    fs = torch.tensor([1., -2., 3.]).view(1, 3, 1, 1)
    ft = torch.tensor([0., 1., 1.]).view(1, 3, 1, 1)
    assert hcl_loss(fs, ft).item() == pytest.approx((1 + 9 + 4) / 3)


def test_hcl_8x8_full_pyramid_weights():
    # H=8: every pool size (4, 2, 1) used, weights 1, 1/2, 1/4, 1/8. The
    # pooled maps are computed by block means (independent of the code).
    g = torch.Generator().manual_seed(1)
    fs = torch.randn(2, 3, 8, 8, generator=g)
    ft = torch.randn(2, 3, 8, 8, generator=g)

    def pool(x, size):
        k = 8 // size
        return x.view(2, 3, size, k, size, k).mean(dim=(3, 5))

    def mse(a, b):
        return ((a - b)**2).mean().item()

    expected = (mse(fs, ft) + mse(pool(fs, 4), pool(ft, 4)) / 2 +
                mse(pool(fs, 2), pool(ft, 2)) / 4 +
                mse(pool(fs, 1), pool(ft, 1)) / 8) / (1 + 1 / 2 + 1 / 4 +
                                                      1 / 8)
    assert hcl_loss(fs, ft).item() == pytest.approx(expected, rel=1e-5)


def test_hcl_loss_module_sums_levels_and_weights():
    fs = [_t([[1., 2], [3, 4]]), torch.full((1, 1, 1, 1), 3.)]
    ft = [_t([[0., 0], [0, 1]]), torch.zeros(1, 1, 1, 1)]
    per_level = [hcl_loss(a, b).item() for a, b in zip(fs, ft)]
    assert per_level[1] == pytest.approx(9.0)
    assert HCLLoss()(fs, ft).item() == pytest.approx(sum(per_level))
    assert HCLLoss(loss_weight=1.2)(fs, ft).item() == pytest.approx(
        1.2 * sum(per_level), rel=1e-6)


def test_fp16_inputs_give_fp32_finite_loss():
    fs = [f.half() for f in _feats(C_T, seed=1)]
    ft = [f.half() for f in _feats(C_T, seed=2)]
    for loss in (hcl_loss(fs[0],
                          ft[0]), HCLLoss()(fs, ft), FeatureMSELoss()(fs, ft)):
        assert loss.dtype == torch.float32
        assert loss.dim() == 0 and torch.isfinite(loss)
    ref = HCLLoss()([f.float() for f in fs], [f.float() for f in ft])
    assert HCLLoss()(fs, ft).item() == pytest.approx(ref.item(), rel=1e-6)


@pytest.mark.parametrize('loss_cls', [HCLLoss, FeatureMSELoss])
def test_loss_input_errors(loss_cls):
    loss = loss_cls()
    a = _feats(C_T)
    with pytest.raises(ValueError, match='empty'):
        loss([], [])
    with pytest.raises(ValueError, match='5 .*4'):
        loss(a, a[:4])
    bad = list(a)
    bad[1] = torch.zeros(B, C_S, *SIZES[1])
    with pytest.raises(ValueError) as err:
        loss(bad, a)
    msg = str(err.value)
    assert 'level 1' in msg and 'connector' in msg
    assert str((B, C_S, *SIZES[1])) in msg and str((B, C_T, *SIZES[1])) in msg


# ---------------------------------------------------------- FeatureMSELoss
def test_feature_mse_hand_computed():
    fs = [_t([[1., 2], [3, 4]]), torch.full((1, 2, 1, 1), 3.)]
    ft = [_t([[0., 0], [0, 1]]), torch.zeros(1, 2, 1, 1)]
    expected = (1 + 4 + 9 + 9) / 4 + 9.0
    assert FeatureMSELoss()(fs, ft).item() == pytest.approx(expected)
    assert FeatureMSELoss(loss_weight=0.5)(fs, ft).item() == pytest.approx(
        0.5 * expected)


# -------------------------------------------------------------- connectors
def test_abf_output_shapes_mismatched_channels():
    abf = ABFConnector(C_S, C_T, mid_channels=MID)
    outs = abf(_feats(C_S))
    assert isinstance(outs, tuple) and len(outs) == 5
    for out, (h, w) in zip(outs, SIZES):
        assert out.shape == (B, C_T, h, w)
    # Only the coarsest level has no attention conv.
    assert [blk.att_conv is None for blk in abf.abfs] == [False] * 4 + [True]


def test_abf_per_level_channels_and_mid_none():
    abf = ABFConnector([4, 6, 8], [5, 7, 9], mid_channels=3, num_levels=3)
    feats = [
        torch.randn(B, c, h, w) for c, (h, w) in zip([4, 6, 8], SIZES[:3])
    ]
    assert [tuple(o.shape) for o in abf(feats)
            ] == [(B, c, h, w) for c, (h, w) in zip([5, 7, 9], SIZES[:3])]
    assert ABFConnector(
        4, 6, mid_channels=None, num_levels=2).mid_channels == 6
    with pytest.raises(ValueError, match='mid_channels'):
        ABFConnector(4, [5, 7], mid_channels=None, num_levels=2)


def test_abf_attention_fusion_coarse_to_fine():
    torch.manual_seed(0)
    abf = ABFConnector(C_S, C_T, mid_channels=MID).eval()
    feats = _feats(C_S)
    with torch.no_grad():
        base = abf(feats)
        # Perturb the coarsest level: every finer output changes.
        pert = list(feats)
        pert[-1] = pert[-1] + 1.0
        outs = abf(pert)
        for lvl in range(5):
            assert not torch.allclose(outs[lvl], base[lvl]), lvl
        # Perturb the finest level: all coarser outputs are unchanged.
        pert = list(feats)
        pert[0] = pert[0] + 1.0
        outs = abf(pert)
        assert not torch.allclose(outs[0], base[0])
        for lvl in range(1, 5):
            assert torch.equal(outs[lvl], base[lvl]), lvl
        # Level 3 by hand: residual of level 4 upsampled (nearest) to 7x5.
        b3, b4 = abf.abfs[3], abf.abfs[4]
        r = b4.conv1(feats[4])
        assert torch.allclose(base[4], b4.conv2(r), atol=1e-6)
        x = b3.conv1(feats[3])
        r_up = F.interpolate(r, size=SIZES[3], mode='nearest')
        a = torch.sigmoid(b3.att_conv[0](torch.cat([x, r_up], dim=1)))
        expected = b3.conv2(x * a[:, 0:1] + r_up * a[:, 1:2])
        assert torch.allclose(base[3], expected, atol=1e-6)


def test_gradients_reach_connector_and_student_not_teacher():
    abf = ABFConnector(C_S, C_T, mid_channels=MID)
    student = _feats(C_S, requires_grad=True)
    teacher = _feats(C_T, seed=3, requires_grad=True)
    loss = HCLLoss(loss_weight=2.0)(abf(student), teacher)
    loss.backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in student)
    assert all(f.grad is None for f in teacher)
    for name, p in abf.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert abf.abfs[0].att_conv[0].weight.grad.abs().sum() > 0

    adapter = ConvAdapter(C_S, C_T)
    student = _feats(C_S, requires_grad=True)
    FeatureMSELoss()(adapter(student), teacher).backward()
    assert all(f.grad is not None for f in student)
    assert all(f.grad is None for f in teacher)
    assert all(p.grad is not None for p in adapter.parameters())


def test_conv_adapter_shapes():
    adapter = ConvAdapter(C_S, C_T)
    outs = adapter(_feats(C_S))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(B, C_T, h, w) for h, w in SIZES]
    assert all(conv.bias is not None and conv.kernel_size == (1, 1)
               for conv in adapter.adapters)
    outs = ConvAdapter([2, 3], [4, 5], num_levels=2)(
        [torch.randn(1, 2, 3, 3),
         torch.randn(1, 3, 2, 2)])
    assert [o.shape[1] for o in outs] == [4, 5]


def test_connector_input_errors():
    abf = ABFConnector(C_S, C_T, mid_channels=MID)
    with pytest.raises(ValueError, match='expects 5 feature levels'):
        abf(_feats(C_S)[:4])
    with pytest.raises(ValueError, match='level 2'):
        abf(_feats(C_S)[:2] + _feats(C_T)[2:])
    with pytest.raises(ValueError, match='expects 5 feature levels'):
        ConvAdapter(C_S, C_T)(_feats(C_S)[:3])
    with pytest.raises(ValueError, match='in_channels'):
        ABFConnector([C_S] * 4, C_T)


def test_build_through_registry():
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    abf = MODELS.build(
        dict(
            type='ABFConnector',
            in_channels=C_S,
            out_channels=C_T,
            mid_channels=MID))
    assert isinstance(abf, ABFConnector)
    adapter = MODELS.build(
        dict(type='ConvAdapter', in_channels=C_S, out_channels=C_T))
    assert isinstance(adapter, ConvAdapter)
    assert isinstance(
        MODELS.build(dict(type='HCLLoss', loss_weight=1.2)), HCLLoss)
    assert isinstance(
        MODELS.build(dict(type='FeatureMSELoss')), FeatureMSELoss)
