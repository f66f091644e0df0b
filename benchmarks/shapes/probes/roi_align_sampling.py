"""Iteration cost with RoIAlign sampling_ratio 0 (mmdet's default) vs 1.

A schedule probe (``benchmarks/shapes/schedule_study.md``, "Round 2"), not a
product tool. From the repository root, after the comparison left its
teacher (KD loads ``work_dirs/compare/val/teacher/seed0/iter_6000.pth``)::

    python benchmarks/shapes/probes/roi_align_sampling.py [student teacher kd]

One thread. Per model, both settings are built from the same seed and
timed round robin (``mmkd_det.utils.benchmark.time_interleaved``: 5
untimed, then 60 timed steps each) on 8 fixed batches of shapes training
images; it prints the median seconds per step and their ratio.
"""
import os.path as osp
import sys

import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
CONFIGS = {
    'student': 'configs/detectors/faster-rcnn_r18-w4_fpn_shapes.py',
    'teacher': 'configs/detectors/faster-rcnn_r18-w16_fpn_shapes.py',
    'kd': 'configs/distill/kd/kd_shapes.py',
}
TEACHER = 'work_dirs/compare/val/teacher/seed0/iter_6000.pth'


def build(name: str, sampling_ratio: int):
    """The model of ``name`` with every RoIAlign set to ``sampling_ratio``."""
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[name]))
    if name == 'kd':
        cfg.model.teacher.checkpoint = osp.join(REPO, TEACHER)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    for module in model.modules():
        if type(module).__name__ == 'RoIAlign':
            module.sampling_ratio = sampling_ratio
    model.train()
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = osp.join(REPO, 'data', 'shapes', '')
    return model, DATASETS.build(dataset_cfg)


def make_step(model, dataset):
    """One SGD training step per call, cycling over 8 fixed batches."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3)
    batches = [
        model.data_preprocessor(
            pseudo_collate([dataset[4 * i + k] for k in range(4)]), True)
        for i in range(8)
    ]
    calls = [0]

    def step():
        data = batches[calls[0] % len(batches)]
        calls[0] += 1
        loss, _ = model.parse_losses(
            model.loss(data['inputs'], data['data_samples']))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    torch.set_num_threads(1)
    init_default_scope('mmdet')
    import mmkd_det  # noqa: F401  (registers the shapes dataset, distiller)
    from mmkd_det.utils.benchmark import summarize, time_interleaved
    for name in sys.argv[1:] or list(CONFIGS):
        steps = {ratio: make_step(*build(name, ratio)) for ratio in (0, 1)}
        times = summarize(time_interleaved(steps, iters=60, warmup=5))
        median = {ratio: ms / 1000 for ratio, (ms, _) in times.items()}
        print(
            f'{name:8s} s/iter sampling_ratio 0: {median[0]:.4f}  '
            f'1: {median[1]:.4f}  ratio 0/1: {median[0] / median[1]:.2f}',
            flush=True)


if __name__ == '__main__':
    sys.path.insert(0, REPO)
    main()
