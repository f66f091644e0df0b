"""Every config parses; plain detectors build offline (the COCO ones without
mmkd_det) and train on the schedule they claim; the method/pair registry
matches configs/distill both ways; a leaf is its pair base plus its method's
loss fragments and nothing else; distillation configs fit their teachers."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import CONFIGS, REPO_ROOT, load_config, load_tool
from mmdet.registry import MODELS
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS

from mmkd_det.utils.methods import (KINDS, METHODS, PAIRS, fragment_configs,
                                    leaf_config, pair_base_config,
                                    shipped_teacher, student_config,
                                    teacher_config)

ALL_CONFIGS = sorted(
    glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True))
DETECTORS = sorted(glob.glob(osp.join(CONFIGS, 'detectors', '*.py')))
# plain mmdet: everything on COCO, and the COCO schedule base
COCO_DETECTORS = [p for p in DETECTORS if 'coco' in osp.basename(p)] + [
    osp.join(CONFIGS, '_base_', 'faster-rcnn_fpn_ms-180k_coco.py')
]
DISTILL = sorted(
    p for p in glob.glob(osp.join(CONFIGS, 'distill', '*', '*.py'))
    if '_base_' not in p)
FRAGMENTS = sorted(
    glob.glob(osp.join(CONFIGS, 'distill', '_base_', 'losses', '*.py')))
PAIR_BASES = sorted(
    glob.glob(osp.join(CONFIGS, 'distill', '_base_', 'pairs', '*.py')))
LEAVES = [(m, p) for m in METHODS for p in PAIRS]


def rel(path):
    return osp.relpath(path, REPO_ROOT)


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=rel)
def test_config_parses(path):
    cfg = load_config(path)
    assert cfg.filename == path


# ------------------------------------------------------------ the registry
def test_registry_matches_configs_both_ways():
    """A new leaf must be registered, a registered leaf must exist."""
    registered = {leaf_config(m, p) for m, p in LEAVES}
    unregistered = sorted(map(rel, set(DISTILL) - registered))
    missing = sorted(map(rel, registered - set(DISTILL)))
    assert not unregistered, (
        f'{unregistered}: add the method/pair to mmkd_det/utils/methods.py')
    assert not missing, f'registered but missing: {missing}'
    assert {osp.basename(p)[:-3] for p in PAIR_BASES} == set(PAIRS)
    used = {f for m in METHODS.values() for f in m.fragments}
    assert {osp.basename(p)[:-3] for p in FRAGMENTS} == used


def test_registry_entries_are_well_formed():
    for name, method in METHODS.items():
        assert method.name == name and method.kind in KINDS
        assert method.description and method.fragments
    for name, pair in PAIRS.items():
        assert pair.name == name and pair.dataset in ('coco', 'digits',
                                                      'shapes')
        assert name.endswith(pair.dataset) and pair.description
        assert osp.isfile(teacher_config(name))
        assert osp.isfile(student_config(name))


def test_registry_names_unknown_method_or_pair():
    with pytest.raises(KeyError, match=r"unknown method 'fgd'.*kd, dkd"):
        leaf_config('fgd', 'shapes')
    with pytest.raises(KeyError, match=r"unknown pair 'voc'.*shapes"):
        leaf_config('kd', 'voc')


@pytest.mark.parametrize('pair', list(PAIRS))
def test_pair_base_is_its_registered_pair_and_no_method(pair):
    """The pair base is the student config plus the teacher: it has no
    losses at all, so on its own it fails to build, naming the fix."""
    base = load_config(pair_base_config(pair))
    student = load_config(student_config(pair))
    assert osp.normpath(base.model.teacher.config) == teacher_config(pair)
    assert base.model.type == 'RoIDistiller'
    assert base.custom_imports.imports == ['mmkd_det']
    assert 'logit_losses' not in base.model
    assert 'feature_losses' not in base.model
    # the pre-flight and exact-resume hooks, plus the student's own hooks
    hooks = [h['type'] for h in base.custom_hooks]
    assert hooks == [
        'SafeCheckpointLoadHook', 'RNGStateHook', 'TeacherCheckHook'
    ]
    assert all(h in base.custom_hooks for h in student.get('custom_hooks', []))
    assert base.teacher_check.num_images > 0
    # everything else is the student's, untouched
    assert set(base.keys()) == set(
        student.keys()) | {'custom_imports', 'custom_hooks', 'teacher_check'}
    for key in student.keys():
        if key not in ('model', 'optim_wrapper', 'custom_hooks'):
            assert base[key] == student[key], key
    for key, value in student.model.items():
        if key != 'type':
            assert base.model[key] == value, key
    assert base.optim_wrapper.optimizer == student.optim_wrapper.optimizer
    base.model.teacher.checkpoint = None
    with pytest.raises(ValueError, match='at least one of logit_losses'):
        MODELS.build(base.model)


@pytest.mark.parametrize('method,pair', LEAVES)
def test_leaf_is_pair_base_plus_method_fragments(method, pair):
    """Nothing leaks to the top level; the losses are the fragments'."""
    cfg = load_config(leaf_config(method, pair))
    base = load_config(pair_base_config(pair))
    assert set(cfg.keys()) == set(base.keys())
    for key in base.keys():
        if key != 'model':
            assert cfg[key] == base[key], key
    model = cfg.model.to_dict()
    logit = model.pop('logit_losses', None)
    feature = model.pop('feature_losses', None)
    warmup = model.pop('distill_warmup_fraction', None)
    assert model == base.model.to_dict()

    expected_logit, expected_feature, expected_warmup = None, None, None
    for path in fragment_configs(method):
        fragment = load_config(path)
        # the losses (a combined fragment has both kinds) and the logit
        # losses' warm-up, nothing else
        assert fragment.keys() and set(fragment.keys()) <= {
            'logit_losses', 'feature_losses_by_pair', 'distill_warmup_fraction'
        }, path
        if 'logit_losses' in fragment:
            expected_logit = fragment.logit_losses.to_dict()
            expected_warmup = fragment.get('distill_warmup_fraction')
        if 'feature_losses_by_pair' in fragment:
            expected_feature = fragment.feature_losses_by_pair[pair].to_dict()
    assert logit == expected_logit and feature == expected_feature
    assert warmup == expected_warmup
    kind = METHODS[method].kind
    assert (logit is not None) == ('logit' in kind)
    assert (feature is not None) == ('feature' in kind)


def test_combined_fragment_is_exactly_its_parts():
    """luminet-reviewkd.py is LumiNet's logit losses and warm-up and
    ReviewKD's feature losses, unchanged, and nothing else."""

    def fragment(name):
        return load_config(
            osp.join(CONFIGS, 'distill', '_base_', 'losses', f'{name}.py'))

    both = fragment('luminet-reviewkd')
    assert set(both.keys()) == {
        'logit_losses', 'feature_losses_by_pair', 'distill_warmup_fraction'
    }
    assert both.logit_losses == fragment('luminet').logit_losses
    assert both.distill_warmup_fraction == \
        fragment('luminet').distill_warmup_fraction
    assert both.feature_losses_by_pair == \
        fragment('reviewkd').feature_losses_by_pair


# ---------------------------------------------------------- plain detectors
@pytest.mark.slow  # a subprocess building COCO-size models
def test_coco_detectors_build_in_plain_mmdet():
    """A student checkpoint loads in plain mmdet: the COCO detector configs
    neither declare nor need mmkd_det (a process that never imports it)."""
    code = '\n'.join([
        'import sys',
        'from mmengine.config import Config',
        'from mmdet.registry import MODELS',
        'from mmdet.utils import register_all_modules',
        'register_all_modules(init_default_scope=True)',
        'for path in sys.argv[1:]:',
        '    cfg = Config.fromfile(path)',
        "    assert 'custom_imports' not in cfg, path",
        '    cfg.model.backbone.init_cfg = None',
        '    MODELS.build(cfg.model)',
        "assert not [m for m in sys.modules if m.startswith('mmkd_det')]",
        "print('built', len(sys.argv) - 1)",
    ])
    proc = subprocess.run([sys.executable, '-c', code, *COCO_DETECTORS],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'built {len(COCO_DETECTORS)}' in proc.stdout


@pytest.mark.slow  # COCO-size backbones take seconds each to build
@pytest.mark.parametrize('path', DETECTORS, ids=rel)
def test_plain_detector_builds_offline(path):
    cfg = load_config(path)
    # DigitsDataset and ShapesDataset are mmkd_det's; COCO detectors are
    # plain mmdet
    if 'shapes' in osp.basename(path) or 'digits' in osp.basename(path):
        assert cfg.custom_imports.imports == ['mmkd_det']
    else:
        assert 'custom_imports' not in cfg
    init_cfg = cfg.model.backbone.get('init_cfg')
    if 'coco' in osp.basename(path):
        # real training starts from ImageNet weights ...
        assert init_cfg and init_cfg['type'] == 'Pretrained'
        assert cfg.val_evaluator.ann_file == \
            cfg.data_root + 'annotations/instances_val2017.json'
    # ... and the override keeps this build offline
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.init_weights()  # would try to download if init_cfg still pointed
    # Faster: one head; Cascade: one per stage
    heads = cfg.model.roi_head.bbox_head
    built = model.roi_head.bbox_head
    if not isinstance(heads, list):
        heads, built = [heads], [built]
    assert len(built) == len(heads)
    assert [h.num_classes for h in built] == [h.num_classes for h in heads]


def lr_trace(cfg, iters):
    """The learning rate the runner would use at each of ``iters``."""
    param = torch.nn.Parameter(torch.zeros(1))
    optim_wrapper = build_optim_wrapper(
        torch.nn.ParameterList([param]), cfg.optim_wrapper)
    schedulers = [
        PARAM_SCHEDULERS.build(
            dict(
                s,
                optimizer=optim_wrapper,
                **({} if 'end' in s else dict(end=cfg.train_cfg.max_iters))))
        for s in cfg.param_scheduler
    ]
    # as in training, the optimizer steps before the schedulers (no grads
    # here, so it changes nothing; it only keeps torch's order check quiet)
    optim_wrapper.optimizer.step()
    lrs, step = {}, 0
    for target in sorted(iters):
        while step < target:
            for scheduler in schedulers:
                scheduler.step()
            step += 1
        lrs[target] = optim_wrapper.get_lr()['lr'][0]
    return lrs


@pytest.mark.parametrize(
    'path', [p for p in DETECTORS if 'ms-180k_coco' in p], ids=rel)
def test_paper_schedule(path):
    """LumiNet A.9 / DKD / ReviewKD: batch 8 (1 image x 8 GPUs), lr 0.01,
    180k iterations, x0.1 at 120k and 160k, linear warm-up over 1k."""
    cfg = load_config(path)
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 180000
    # --auto-scale-lr keeps lr 0.01 exactly at 8 GPUs x batch_size images
    assert cfg.train_dataloader.batch_size * 8 == \
        cfg.auto_scale_lr.base_batch_size == 8
    lrs = lr_trace(cfg, [0, 500, 1000, 119999, 120000, 159999, 160000])
    assert lrs[0] == pytest.approx(1e-5)
    assert 1e-5 < lrs[500] < 1e-2
    assert lrs[1000] == lrs[119999] == pytest.approx(1e-2)
    assert lrs[120000] == lrs[159999] == pytest.approx(1e-3)
    assert lrs[160000] == pytest.approx(1e-4)


@pytest.mark.parametrize(
    'fragment',
    [f for f in FRAGMENTS if 'feature_losses_by_pair' in load_config(f)],
    ids=rel)
def test_feature_fragment_has_every_pair(fragment):
    """Feature losses depend on the pair: a new pair needs its entry."""
    entries = load_config(fragment).feature_losses_by_pair
    missing = sorted(set(PAIRS) - set(entries))
    assert not missing, f'add {missing} to {rel(fragment)}'
    assert set(entries) == set(PAIRS)


# ----------------------------------------------------- distillation configs
def num_classes(model_cfg) -> list:
    """num_classes of every bbox head (a cascade has one per stage)."""
    heads = model_cfg.roi_head.bbox_head
    return [
        h.num_classes for h in (heads if isinstance(heads, list) else [heads])
    ]


@pytest.mark.parametrize('method,pair', LEAVES)
def test_distill_config_fits_its_teacher(method, pair):
    path = leaf_config(method, pair)
    cfg = load_config(path)
    assert cfg.model.type == 'RoIDistiller'
    assert cfg.optim_wrapper.constructor == 'DistillOptimWrapperConstructor'
    # mmdet's own tools/train.py registers mmkd_det from the config
    assert cfg.custom_imports.imports == ['mmkd_det']
    teacher_path = cfg.model.teacher.config
    assert osp.isabs(teacher_path) and osp.isfile(teacher_path)
    teacher = load_config(teacher_path).model
    assert set(num_classes(teacher)) == set(num_classes(cfg.model)) and \
        len(set(num_classes(cfg.model))) == 1
    losses = dict(
        cfg.model.get('logit_losses') or {},
        **(cfg.model.get('feature_losses') or {}))
    assert losses and all('loss' in name for name in losses)
    checkpoint = cfg.model.teacher.checkpoint
    if PAIRS[pair].dataset == 'shapes':
        # found next to the repository, not relative to the working dir:
        # where the quickstart, or tools/train.py TEACHER_CONFIG, leaves it
        expected = {
            'shapes': 'quickstart/teacher/teacher.pth',
            'cascade_shapes': 'cascade-rcnn_r34-w32_fpn_shapes/iter_3000.pth'
        }[pair]
        assert osp.normpath(checkpoint) == osp.join(REPO_ROOT, 'work_dirs',
                                                    expected)
        if pair == 'cascade_shapes':  # the teacher's last checkpoint
            max_iters = load_config(teacher_path).train_cfg.max_iters
            assert expected.endswith(f'/iter_{max_iters}.pth')
    elif PAIRS[pair].dataset == 'digits':
        # the teacher the repository ships, found next to this config
        assert osp.normpath(checkpoint) == shipped_teacher(pair)
    else:
        assert checkpoint.startswith('https://download.openmmlab.com/')


@pytest.mark.parametrize('pair', ['shapes', 'cascade_shapes'])
@pytest.mark.parametrize('method', list(METHODS))
def test_shapes_leaf_builds(method, pair, teacher_checkpoint,
                            cascade_teacher_checkpoint):
    """Every method builds on the shapes pairs with exactly its losses."""
    cfg = load_config(leaf_config(method, pair))
    cfg.model.teacher.checkpoint = (
        teacher_checkpoint if pair == 'shapes' else cascade_teacher_checkpoint)
    model = MODELS.build(cfg.model)
    assert set(model.logit_losses) == set(cfg.model.get('logit_losses', {}))
    assert set(model.feature_losses) == set(
        cfg.model.get('feature_losses', {}))
    assert set(model.connectors) == set(model.feature_losses)


def test_quickstart_offers_exactly_the_registered_methods():
    """tools/quickstart.py reads the registry: every method runs on the
    digits pair."""
    quickstart = load_tool('quickstart.py')
    assert quickstart.parse_args(['--methods', *METHODS]).methods == \
        list(METHODS)
    for method in METHODS:
        assert quickstart.method_config(method) == leaf_config(
            method, 'digits')
        assert osp.isfile(quickstart.method_config(method))
    with pytest.raises(SystemExit):
        quickstart.parse_args(['--methods', 'fgd'])
