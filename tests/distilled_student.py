"""Test helper: a distilled checkpoint is the student, usable with the plain
student config.

``Runner.test()`` loads ``load_from`` non-strictly, so a checkpoint whose
keys match nothing evaluates a randomly initialised model without an error;
a metric in [0, 1] proves nothing. :func:`check_plain_student` instead loads
the checkpoint strictly into the plain model and requires its predictions to
equal the distiller's student's on the same images.
"""
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner

from mmkd_det.utils import checkpoint_safe_globals


def _predict(model: torch.nn.Module, data: dict) -> list:
    model.eval()
    with torch.no_grad():
        return [sample.pred_instances for sample in model.test_step(data)]


def check_plain_student(distiller: torch.nn.Module, plain_cfg: Config,
                        checkpoint: str) -> dict:
    """Test ``checkpoint`` with the plain config and check it is the student.

    Asserts that: the checkpoint holds no teacher weight; its state dict
    loads strictly (no missing, no unexpected key) into the model built from
    ``plain_cfg.model``; the runner that tests with ``plain_cfg`` evaluates
    exactly these weights; and the plain model's boxes, scores and labels on
    the first test batch equal those of ``distiller`` (the trained distiller,
    whose ``predict`` is its student's), bit for bit.

    Args:
        distiller: The distiller whose training saved ``checkpoint``, with
            the weights it had then.
        plain_cfg: A runnable config of the plain student (work dir, data).
        checkpoint: The distiller's checkpoint file.

    Returns:
        dict: The metrics of ``Runner.test()`` with ``plain_cfg``.
    """
    with checkpoint_safe_globals():  # mmengine's message hub
        state = torch.load(checkpoint)['state_dict']
    assert state, f'{checkpoint} holds no weights'
    teacher = [k for k in state if k.startswith('teacher.')]
    assert not teacher, f'{checkpoint} holds teacher weights: {teacher[:3]}'
    plain = MODELS.build(plain_cfg.model)
    plain.load_state_dict(state, strict=True)

    plain_cfg.load_from = checkpoint
    runner = Runner.from_cfg(plain_cfg)
    metrics = runner.test()
    tested = runner.model.state_dict()
    assert tested.keys() == state.keys()
    assert all(torch.equal(tested[k], v) for k, v in state.items()), \
        'Runner.test() did not evaluate the checkpoint\'s weights'

    data = next(iter(runner.test_dataloader))
    expected, got = _predict(distiller, data), _predict(plain, data)
    assert sum(len(p) for p in expected) > 0, 'no prediction to compare'
    for want, have in zip(expected, got, strict=True):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(have[key], want[key]), (
                f'the plain model\'s {key} differ from the distiller\'s')
    return metrics
