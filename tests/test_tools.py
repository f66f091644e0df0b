"""The command-line tools end to end, as subprocesses on the tiny shapes set
(marked ``slow``; those that need the 2-process run also ``dist``).

One 2-process CPU (gloo) run of ``tools/dist_train.sh`` trains the plain
shapes student for 2 iterations and validates it with mmdet's CocoMetric; the
other tests evaluate (``tools/test.py``) and resume (``tools/train.py
--resume``) its checkpoint.
"""
import json
import os
import os.path as osp
import pickle
import re
import shutil
import subprocess
import sys
from glob import glob

import cv2
import pytest
import torch
from conftest import (REPO_ROOT, STUDENT_CONFIG, TOOLS, free_port, load_tool,
                      straight_vs_resumed)
from mmengine.config import Config
from rng_recorder import record_path

TIMEOUT = 300
TESTS_DIR = osp.dirname(osp.abspath(__file__))

# shrink the shapes config: 2 iterations, batch 1, no dataloader workers
TINY_OPTIONS = [
    'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
    'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2'
]


def _env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE',
                     'MASTER_ADDR', 'MASTER_PORT', 'PORT')
    }
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env['PYTHONWARNINGS'] = 'ignore'
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    env.update(extra)
    return env


def _run(cmd, cwd, **env):
    """Run ``cmd``; return (returncode, stdout and stderr together)."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT)
    return proc.returncode, proc.stdout


def _same_state(a, b) -> bool:
    """Equality of nested random states (dicts, tuples, tensors, numbers)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same_state, a, b))
    return a == b


def _tail(text, lines=40):
    return '\n'.join(text.splitlines()[-lines:])


def _scalars(work_dir):
    """Records of mmengine's ``vis_data/scalars.json`` of the run."""
    scalars = glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(scalars) == 1
    with open(scalars[0]) as f:
        return [json.loads(line) for line in f if line.strip()]


def _log_file(work_dir):
    logs = sorted(glob(osp.join(work_dir, '*', '*.log')))
    assert logs, f'no log file under {work_dir}'
    with open(logs[-1]) as f:
        return f.read()


@pytest.fixture(scope='module')
def dist_run(shapes_root, tmp_path_factory):
    """``tools/dist_train.sh`` with 2 CPU processes, 2 iterations.

    The config is the plain student's plus ``rng_recorder``'s hook, which
    only writes down each rank's random states (see
    test_dist_checkpoint_carries_every_rank_random_state).
    """
    work_dir = str(tmp_path_factory.mktemp('dist_train'))
    config = str(tmp_path_factory.mktemp('dist_config') / 'student.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = '{STUDENT_CONFIG}'\n"
                "custom_imports = dict(imports=['rng_recorder'], "
                "allow_failed_imports=False)\n"
                "custom_hooks = _base_.custom_hooks + "
                "[dict(type='RecordRNGStateHook')]\n")
    rc, out = _run([
        'bash',
        osp.join(TOOLS, 'dist_train.sh'), config, '2', '--work-dir', work_dir,
        '--data-root', shapes_root, '--cfg-options', *TINY_OPTIONS
    ],
                   cwd=work_dir,
                   PYTHON=sys.executable,
                   PORT=str(free_port()),
                   PYTHONPATH=os.pathsep.join(
                       p for p in (REPO_ROOT, TESTS_DIR,
                                   os.environ.get('PYTHONPATH')) if p))
    return dict(
        rc=rc,
        out=out,
        work_dir=work_dir,
        checkpoint=osp.join(work_dir, 'iter_2.pth'))


@pytest.fixture(scope='module')
def checkpoint(dist_run):
    assert dist_run['rc'] == 0, _tail(dist_run['out'])
    return dist_run['checkpoint']


def _env_report(log):
    """mmengine's runtime environment report, as a dict of its lines."""
    report = {}
    for line in log.splitlines():
        key, sep, value = line.strip().partition(': ')
        if sep and key in ('Distributed launcher', 'Distributed training',
                           'GPU number'):
            report.setdefault(key, value)
    return report


@pytest.mark.slow
@pytest.mark.dist
def test_dist_train_two_cpu_processes(dist_run):
    assert dist_run['rc'] == 0, _tail(dist_run['out'])
    with open(osp.join(dist_run['work_dir'], 'last_checkpoint')) as f:
        assert f.read().strip() == dist_run['checkpoint']
    # the checkpoint is that of the 2nd (last) iteration, and its student
    # loads into the plain student model
    from mmkd_det.utils import checkpoint_safe_globals
    with checkpoint_safe_globals():  # mmengine's message hub
        ckpt = torch.load(dist_run['checkpoint'], map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    from mmdet.registry import MODELS
    model = MODELS.build(Config.fromfile(STUDENT_CONFIG).model)
    missing, unexpected = model.load_state_dict(
        ckpt['state_dict'], strict=False)
    assert not missing and not unexpected
    # both training iterations were logged
    assert [r['iter'] for r in _scalars(dist_run['work_dir'])
            if 'loss' in r] == [1, 2]
    # 2 processes in a gloo group; mmengine's environment report is the
    # only place a run records its world size ("GPU number")
    log = _log_file(dist_run['work_dir'])
    assert _env_report(log) == {
        'Distributed launcher': 'pytorch',
        'Distributed training': 'True',
        'GPU number': '2'
    }
    assert "dist_cfg: {'backend': 'gloo'}" in log


@pytest.mark.slow
@pytest.mark.dist
def test_dist_checkpoint_carries_every_rank_random_state(dist_run, checkpoint):
    """Entry r of the checkpoint's random states is what rank r recorded
    after the saved iteration, for each generator."""
    from mmkd_det.utils import checkpoint_safe_globals
    with checkpoint_safe_globals():
        rng = torch.load(checkpoint)['rng_states']
        recorded = [
            torch.load(record_path(dist_run['work_dir'], 2, rank))
            for rank in range(2)
        ]
    assert rng['world_size'] == 2 and len(rng['states']) == 2
    # the ranks' generators differ, so rank 0's states saved twice would fail
    assert not _same_state(recorded[0], recorded[1])
    for rank, (state, own) in enumerate(zip(rng['states'], recorded)):
        assert set(state) == {'python', 'numpy', 'torch'}
        for generator in state:
            assert _same_state(state[generator], own[generator]), \
                f'rank {rank}: {generator} state is not that rank\'s'


@pytest.mark.slow
@pytest.mark.dist
def test_dist_resume_is_bit_exact(shapes_root, tmp_path):
    """2 CPU processes: straight 4 iterations == 2, then --resume."""
    options = [
        o for o in TINY_OPTIONS if not o.startswith(
            ('train_cfg.', 'default_hooks.checkpoint',
             'train_dataloader.num_workers', 'train_dataloader.persistent'))
    ] + [
        'train_cfg.max_iters=4', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'train_dataloader.num_workers=1'
    ]

    def train(work_dir, *extra):
        rc, out = _run([
            'bash',
            osp.join(TOOLS,
                     'dist_train.sh'), STUDENT_CONFIG, '2', '--work-dir',
            str(tmp_path / work_dir), '--data-root', shapes_root, *extra,
            '--cfg-options', *options
        ],
                       cwd=str(tmp_path),
                       PYTHON=sys.executable,
                       PORT=str(free_port()))
        assert rc == 0, _tail(out)
        return out

    out, _, _, diff = straight_vs_resumed(train, tmp_path)
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Random states are not restored' not in out
    print(f'\n2 processes (gloo), student (num_workers=1): straight 4 '
          f'iterations vs 2 + --resume: max |dw| = {diff}')
    assert diff == 0.0


@pytest.mark.slow
@pytest.mark.dist
def test_dist_train_validates_with_coco_metric(dist_run):
    """The plain detector's validation goes through mmdet's CocoMetric:
    mmengine's scalars.json holds the COCO metrics as numbers."""
    assert dist_run['rc'] == 0, _tail(dist_run['out'])
    records = _scalars(dist_run['work_dir'])
    val = [r for r in records if 'coco/bbox_mAP' in r]
    assert len(val) == 1
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert isinstance(val[0][key], float)
        assert 0.0 <= val[0][key] <= 1.0
    # iteration-based training: the validation is logged at its iteration
    assert val[0]['step'] == 2
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == [1, 2]


@pytest.mark.slow
@pytest.mark.dist  # uses the 2-process run's checkpoint
def test_test_py_evaluates_dumps_and_shows(checkpoint, shapes_root, tmp_path):
    out_pkl = str(tmp_path / 'preds.pkl')
    rc, out = _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'), STUDENT_CONFIG, checkpoint, '--work-dir',
        str(tmp_path), '--data-root', shapes_root, '--out', out_pkl,
        '--show-dir', 'painted', '--cfg-options',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ],
                   cwd=str(tmp_path))
    assert rc == 0, _tail(out)
    assert f'Load checkpoint from {checkpoint}' in out
    # mmengine's test log (WORK_DIR/TIMESTAMP/TIMESTAMP.json): CocoMetric's
    # numbers
    (log_json, ) = glob(osp.join(str(tmp_path), '*', '*.json'))
    with open(log_json) as f:
        metrics = json.load(f)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert 0.0 <= metrics[key] <= 1.0, (key, metrics)

    # --show-dir: every val image painted, under its own name, in
    # WORK_DIR/TIMESTAMP/painted, as mmdet's tools/test.py does
    val_dir = osp.join(shapes_root, 'val')
    painted_dir = osp.join(osp.dirname(log_json), 'painted')
    assert sorted(os.listdir(painted_dir)) == sorted(os.listdir(val_dir))
    for name in os.listdir(val_dir):
        h, w, _ = cv2.imread(osp.join(val_dir, name)).shape
        # mmdet's DetLocalVisualizer: ground truth left, predictions right
        assert cv2.imread(osp.join(painted_dir, name)).shape == (h, 2 * w, 3)

    assert osp.isfile(out_pkl)
    with open(out_pkl, 'rb') as f:
        results = pickle.load(f)
    with open(osp.join(shapes_root, 'annotations', 'instances_val.json')) as f:
        val_ids = {img['id'] for img in json.load(f)['images']}
    assert {r['img_id'] for r in results} == val_ids
    assert len(results) == len(val_ids)
    for result in results:
        pred = result['pred_instances']
        assert len(pred['bboxes']) == len(pred['scores']) == len(
            pred['labels'])


@pytest.mark.slow
@pytest.mark.dist  # uses the 2-process run's checkpoint
def test_train_py_resume_auto(checkpoint, shapes_root, tmp_path):
    """``--resume`` without a path continues from the work dir's last
    checkpoint (written by the 2-process run) to the new max_iters."""
    work_dir = str(tmp_path / 'work')
    os.makedirs(work_dir)
    start = osp.join(work_dir, 'iter_2.pth')
    shutil.copy(checkpoint, start)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(start)
    options = [o for o in TINY_OPTIONS if not o.startswith('train_cfg.')]
    rc, out = _run([
        sys.executable,
        osp.join(TOOLS, 'train.py'), STUDENT_CONFIG, '--resume', '--work-dir',
        work_dir, '--data-root', shapes_root, '--cfg-options',
        'train_cfg.max_iters=3', 'train_cfg.val_begin=100', *options
    ],
                   cwd=str(tmp_path))
    assert rc == 0, _tail(out)
    assert f'Load checkpoint from {start}' in out
    assert 'resumed epoch: 0, iter: 2' in out
    train_iters = re.findall(r'Iter\(train\) \[(\d+)/3\]', out)
    assert train_iters == ['3'], _tail(out)  # did not start over
    assert 'Saving checkpoint at 3 iterations' in out
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work_dir, 'iter_3.pth')


@pytest.mark.slow
def test_test_py_missing_checkpoint(tmp_path):
    missing = str(tmp_path / 'no_such_dir' / 'missing.pth')
    rc, out = _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'), STUDENT_CONFIG, missing, '--work-dir',
        str(tmp_path)
    ],
                   cwd=str(tmp_path))
    assert rc != 0
    assert f'Checkpoint not found: {missing}' in out
    assert 'FileNotFoundError' in out


def test_show_dir_turns_on_the_visualization_hook():
    tool = load_tool('test.py')
    cfg = Config.fromfile(STUDENT_CONFIG)
    assert not cfg.default_hooks.visualization.get('draw', False)
    tool.enable_show_dir(cfg, 'painted')
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.default_hooks.visualization.test_out_dir == 'painted'

    del cfg.default_hooks['visualization']
    with pytest.raises(
            ValueError,
            match='--show-dir needs a visualization '
            'hook; add default_hooks'):
        tool.enable_show_dir(cfg, 'painted')
