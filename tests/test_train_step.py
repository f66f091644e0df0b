"""One optimizer step of every registered method on its shapes config, on
each device and optimizer wrapper: fp32 on CPU and CUDA, and on CUDA with
``AmpOptimWrapper`` (fp16 autocast; with the fp32 and the fp16 teacher).

mmengine's ``AmpOptimWrapper`` needs CUDA, so there is no CPU AMP variant.
"""
import pytest
import torch
from conftest import on_cuda
from test_distiller import batch, build_distiller

from mmkd_det.utils import methods as registry

VARIANTS = [
    pytest.param('cpu', 'OptimWrapper', 'fp32', marks=pytest.mark.slow),
    on_cuda('cuda', 'OptimWrapper', 'fp32'),
    on_cuda('cuda', 'AmpOptimWrapper', 'fp32'),
    on_cuda('cuda', 'AmpOptimWrapper', 'fp16'),
]


def student_state(model):
    return {
        k: v.detach().clone()
        for k, v in model.state_dict().items() if v.dtype.is_floating_point
    }


@pytest.mark.parametrize('device, wrapper, precision', VARIANTS)
@pytest.mark.parametrize('method', list(registry.METHODS))
def test_one_train_step(method, device, wrapper, precision,
                        teacher_checkpoint):
    from mmengine.optim import build_optim_wrapper
    model, cfg = build_distiller(
        teacher_checkpoint,
        registry.leaf_config(method, 'shapes'),
        teacher_precision=precision)
    model.to(device).train()
    cfg.optim_wrapper.type = wrapper
    if wrapper == 'AmpOptimWrapper':
        # GradScaler's default first scale (65536) may overflow fp16 and
        # skip the step, as designed; this step must update the weights
        cfg.optim_wrapper.loss_scale = dict(init_scale=256.0)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    teacher = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    before = student_state(model)

    log_vars = model.train_step(batch(model), optim_wrapper)

    distill = {
        *(cfg.model.get('logit_losses') or {}),
        *(cfg.model.get('feature_losses') or {})
    }
    assert distill and distill <= set(log_vars), sorted(log_vars)
    for key, value in log_vars.items():
        assert torch.isfinite(torch.as_tensor(value)), key
    assert next(model.parameters()).device.type == device
    moved = [
        k for k, v in model.state_dict().items()
        if k in before and not torch.equal(v, before[k])
    ]
    assert any(k.startswith('backbone.') for k in moved), moved
    assert any(k.startswith('roi_head.') for k in moved), moved
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher[key]), key
