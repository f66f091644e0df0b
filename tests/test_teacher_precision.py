"""RoIDistiller(teacher_precision=...): the teacher under fp16/bf16 autocast.

On CPU the half-precision variant is bf16 (CPU autocast has no useful fp16);
the CUDA variants (fp16 and bf16) run with ``pytest -m cuda`` on a GPU.
Closeness is measured on a briefly trained teacher
(``trained_teacher_checkpoint``): its logits span about -4 to 12.5 on these
inputs, where a random teacher's stay near 0.
"""
import pytest
import torch
from conftest import DEVICES, on_cuda
from test_distiller import batch, build_distiller

# Tolerances, relative to the fp32 teacher on the same inputs. Measured on
# CPU with bf16 (8-bit mantissa): max |d logit| = 0.015 of max |logit|,
# softmax probabilities within 0.0085, FPN levels within 0.022 of their
# max; the bounds leave about 3x room (fp16 has a 10-bit mantissa).
LOGIT_RTOL = 0.05
PROB_ATOL = 0.03
FEATURE_RTOL = 0.05

HALF = [('cpu', 'bf16'), on_cuda('cuda', 'bf16'), on_cuda('cuda', 'fp16')]


def teacher_outputs(checkpoint, precision, device, **overrides):
    """The distiller (student seeded alike for every precision), its
    preprocessed batch and the teacher's FPN outputs and stage-0 logits on
    the student's RoIs."""
    model, _ = build_distiller(
        checkpoint, teacher_precision=precision, **overrides)
    model.to(device).train()
    data = batch(model)
    _, record = model.student_loss(data['inputs'], data['data_samples'])
    feats, logits = model.teacher_outputs(
        data['inputs'], record, [s.metainfo for s in data['data_samples']])
    return model, data, feats, logits[0]


@pytest.mark.slow  # trains the teacher once per session (~25 s)
@pytest.mark.parametrize('device, precision', HALF)
def test_half_teacher_logits_close_to_fp32(device, precision,
                                           trained_teacher_checkpoint):
    _, _, feats32, logits32 = teacher_outputs(trained_teacher_checkpoint,
                                              'fp32', device)
    _, _, feats, logits = teacher_outputs(trained_teacher_checkpoint,
                                          precision, device)
    assert logits.dtype == torch.float32 and logits.shape == logits32.shape
    assert all(f.dtype == torch.float32 for f in feats)
    scale = logits32.abs().max()
    assert scale > 5  # trained, not random: the comparison means something
    diff = (logits - logits32).abs().max()
    print(f'\n{device} {precision}: max |d logit| = {diff:.4f} '
          f'({diff / scale:.4f} of max |logit| {scale:.2f})')
    assert diff <= LOGIT_RTOL * scale
    assert not torch.equal(logits, logits32)  # it did run at lower precision
    probs = (logits.softmax(-1) - logits32.softmax(-1)).abs().max()
    assert probs <= PROB_ATOL, probs
    for level, (f, f32) in enumerate(zip(feats, feats32)):
        assert (f - f32).abs().max() <= FEATURE_RTOL * f32.abs().max(), level


def _total(loss):
    """An mmdet loss entry (a tensor or a list, one per FPN level)."""
    return sum(loss) if isinstance(loss, list) else loss


def _distill_step(checkpoint, precision, device):
    """One loss + backward of the LumiNet distiller; its losses and the
    gradient of every trainable parameter."""
    model, _ = build_distiller(checkpoint, teacher_precision=precision)
    model.to(device).train()
    data = batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, _ = model.parse_losses(losses)
    total.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    grads = {
        name: p.grad
        for name, p in model.named_parameters() if p.requires_grad
    }
    return losses, grads


@pytest.mark.slow  # trains the teacher once per session (~25 s)
@pytest.mark.parametrize('device, precision', HALF)
def test_half_teacher_step_matches_fp32_step(device, precision,
                                             trained_teacher_checkpoint):
    """Same student, same batch: the distillation loss is finite and close,
    the student's own losses are identical, and every student parameter
    gets a finite gradient close to the fp32-teacher step's."""
    losses32, grads32 = _distill_step(trained_teacher_checkpoint, 'fp32',
                                      device)
    losses, grads = _distill_step(trained_teacher_checkpoint, precision,
                                  device)
    kd, kd32 = losses['loss_kd_cls'], losses32['loss_kd_cls']
    assert kd.dtype == torch.float32 and torch.isfinite(kd) and kd > 0
    print(f'\n{device} {precision}: loss_kd_cls {kd.item():.5f} vs fp32 '
          f'{kd32.item():.5f}')
    assert kd.item() == pytest.approx(kd32.item(), rel=0.05)
    for key in ('loss_cls', 'loss_bbox', 'loss_rpn_cls'):  # no teacher
        assert torch.equal(_total(losses[key]), _total(losses32[key])), key
    assert grads.keys() == grads32.keys()
    for name, grad in grads.items():
        assert grad is not None and torch.isfinite(grad).all(), name
    flat = torch.cat([g.flatten() for g in grads.values()])
    flat32 = torch.cat([g.flatten() for g in grads32.values()])
    cosine = torch.nn.functional.cosine_similarity(flat, flat32, dim=0)
    print(f'gradient cosine similarity to the fp32-teacher step: {cosine}')
    assert cosine > 0.999


@pytest.mark.parametrize('device', DEVICES)
def test_fp32_teacher_ignores_outer_autocast(device, teacher_checkpoint):
    """'fp32' runs the teacher in fp32 even inside the student's autocast
    (AmpOptimWrapper's): the same FPN outputs as without it."""
    model, data, feats, logits = teacher_outputs(teacher_checkpoint, 'fp32',
                                                 device)
    record = model.student_loss(data['inputs'], data['data_samples'])[1]
    half = torch.bfloat16 if device == 'cpu' else torch.float16
    with torch.autocast(device, dtype=half):
        inside = model.teacher_outputs(
            data['inputs'], record,
            [s.metainfo for s in data['data_samples']])[0]
    for level, (a, b) in enumerate(zip(inside, feats)):
        assert torch.equal(a, b), level


def test_unknown_precision_is_a_build_error(teacher_checkpoint):
    with pytest.raises(
            ValueError,
            match="Unknown teacher_precision 'half': use one of 'fp32', "
            "'fp16', 'bf16'"):
        build_distiller(teacher_checkpoint, teacher_precision='half')


def test_fp16_without_cuda_is_a_build_error(teacher_checkpoint, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(
            ValueError,
            match=r"teacher_precision='fp16' needs a CUDA device, but this "
            r"machine has none. Use teacher_precision='bf16'"):
        build_distiller(teacher_checkpoint, teacher_precision='fp16')


def test_fp16_on_cpu_tensors_fails_at_the_first_teacher_forward(
        teacher_checkpoint, monkeypatch):
    """Built where CUDA exists (faked here), then run on CPU tensors."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    with pytest.raises(
            RuntimeError,
            match=r"teacher_precision='fp16' needs a CUDA device, but the "
            r'inputs are on cpu'):
        teacher_outputs(teacher_checkpoint, 'fp16', 'cpu')
