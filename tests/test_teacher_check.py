"""Teacher pre-flight: class order, input normalization, teacher AP.

Each failure must be an error, before the first training step, that names
both sides and the fix. The error messages are printed (``-s``) so they can
be quoted.
"""
import os.path as osp
import uuid

import pytest
import torch
import torch.nn as nn
from conftest import CONFIGS, STUDENT_CONFIG, TEACHER_CONFIG, tiny_config
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from mmkd_det.datasets.shapes import SHAPES_CLASSES
from mmkd_det.engine import TeacherCheckHook, check_teacher_classes
from mmkd_det.engine.rng_state_hook import get_rng_state
from mmkd_det.engine.teacher_check_hook import evaluate_teacher
from mmkd_det.models.distillers.teacher import build_teacher
from mmkd_det.models.distillers.teacher_meta import (
    Normalization, normalization_from_config_text, read_checkpoint_info)

LUMINET = osp.join(CONFIGS, 'distill', 'luminet', 'luminet_shapes.py')
SHAPES_MEAN = [123.675, 116.28, 103.53]
SHAPES_STD = [58.395, 57.12, 57.375]


def _teacher_with_meta(teacher_checkpoint, path, meta):
    """The fixture teacher's weights under another ``meta``."""
    state = torch.load(teacher_checkpoint)['state_dict']
    torch.save({'meta': meta, 'state_dict': state}, str(path))
    return str(path)


def _teacher_cfg_text(**preprocessor):
    """The config text MMEngine's runner writes to ``meta['cfg']``."""
    cfg = Config.fromfile(TEACHER_CONFIG)
    cfg.model.data_preprocessor.update(preprocessor)
    return cfg.pretty_text


def _runner(teacher, work_dir, config=LUMINET, **options):
    if config == LUMINET:
        options['model.teacher.checkpoint'] = teacher
    cfg = tiny_config(
        config, options.pop('data_root'), work_dir, max_iters=2, **options)
    cfg.experiment_name = f'test_teacher_check_{uuid.uuid4().hex[:8]}'
    return Runner.from_cfg(cfg)


# --------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------
def test_class_order_mismatch_is_an_error():
    swapped = list(SHAPES_CLASSES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(ValueError) as info:
        check_teacher_classes(swapped, SHAPES_CLASSES, 'teacher.pth')
    message = str(info.value)
    print('\n' + message)
    assert message.startswith('Teacher class mismatch: the teacher '
                              'checkpoint teacher.pth was trained on')
    assert "#0: teacher 'orange_circle' vs dataset 'red_circle'" in message
    assert "#1: teacher 'red_circle' vs dataset 'orange_circle'" in message
    assert '#2' not in message
    assert 'Use a teacher trained on this dataset' in message


def test_class_set_mismatch_is_an_error():
    coco_like = ('person', ) + tuple(SHAPES_CLASSES[1:])
    with pytest.raises(ValueError) as info:
        check_teacher_classes(coco_like, SHAPES_CLASSES, 'teacher.pth')
    message = str(info.value)
    print('\n' + message)
    assert ("only the teacher has ['person'], only the dataset has "
            "['red_circle']") in message
    with pytest.raises(ValueError, match='different class sets'):
        check_teacher_classes(SHAPES_CLASSES[:-1], SHAPES_CLASSES, 't.pth')


def test_same_classes_pass_and_missing_classes_warn(logged):
    check_teacher_classes(list(SHAPES_CLASSES), SHAPES_CLASSES, 'teacher.pth')
    assert logged == []
    check_teacher_classes(None, SHAPES_CLASSES, 'teacher.pth')
    assert len(logged) == 1 and logged[0].startswith(
        'The teacher checkpoint teacher.pth records no class names')


@pytest.mark.slow
def test_class_mismatch_stops_training_before_the_first_step(
        teacher_checkpoint, shapes_root, tmp_path):
    reversed_classes = tuple(reversed(SHAPES_CLASSES))
    teacher = _teacher_with_meta(
        teacher_checkpoint, tmp_path / 'teacher.pth',
        dict(dataset_meta=dict(classes=reversed_classes)))
    runner = _runner(teacher, str(tmp_path / 'work'), data_root=shapes_root)
    assert runner.model.teacher.checkpoint_info.classes == reversed_classes
    with pytest.raises(ValueError, match='Teacher class mismatch'):
        runner.train()
    assert runner.iter == 0
    assert not [
        p for p in (tmp_path / 'work').iterdir() if p.name.endswith('.pth')
    ]


def test_mmdet2_checkpoint_meta_is_read():
    info = read_checkpoint_info(
        'zoo.pth',
        dict(
            CLASSES=('a', 'b'),
            config="img_norm_cfg = dict(\n    mean=[1.0, 2.0, 3.0], "
            "std=[4.0, 5.0, 6.0], to_rgb=True)\n"
            "model = dict(type='FasterRCNN')"))
    assert info.classes == ('a', 'b')
    assert info.normalization == Normalization((1., 2., 3.), (4., 5., 6.),
                                               True)
    assert read_checkpoint_info('t.pth', {'note': 'x'}) == \
        read_checkpoint_info('t.pth', None)


# --------------------------------------------------------------------------
# normalization
# --------------------------------------------------------------------------
def test_normalization_mismatch_is_a_build_error(teacher_checkpoint, tmp_path):
    teacher = _teacher_with_meta(
        teacher_checkpoint, tmp_path / 'caffe.pth',
        dict(
            cfg=_teacher_cfg_text(
                mean=[103.53, 116.28, 123.675],
                std=[1.0, 1.0, 1.0],
                bgr_to_rgb=False)))
    with pytest.raises(ValueError) as info:
        build_teacher(TEACHER_CONFIG, teacher)
    message = str(info.value)
    print('\n' + message)
    assert message.startswith('Teacher input normalization mismatch')
    assert (f'normalizes with mean={SHAPES_MEAN}, std={SHAPES_STD}, '
            'bgr_to_rgb=True') in message
    assert ('was trained with mean=[103.53, 116.28, 123.675], '
            'std=[1.0, 1.0, 1.0], bgr_to_rgb=False') in message
    assert TEACHER_CONFIG in message and teacher in message
    assert 'Set model.data_preprocessor in the teacher config' in message


def test_matching_normalization_builds(teacher_checkpoint, tmp_path):
    teacher = _teacher_with_meta(
        teacher_checkpoint, tmp_path / 'ok.pth',
        dict(
            cfg=_teacher_cfg_text(),
            dataset_meta=dict(classes=SHAPES_CLASSES)))
    model = build_teacher(TEACHER_CONFIG, teacher)
    info = model.checkpoint_info
    assert info.normalization == Normalization(
        tuple(SHAPES_MEAN), tuple(SHAPES_STD), True)
    assert info.classes == SHAPES_CLASSES and info.checkpoint == teacher


def test_config_text_is_parsed_not_executed(tmp_path):
    marker = tmp_path / 'executed'
    text = (f'import os\nos.system("touch {marker}")\n'
            f'open("{marker}", "w")\n'
            'model = dict(type="X", data_preprocessor=dict(mean=[1, 2, 3], '
            'std=[1, 1, 1], bgr_to_rgb=True))')
    assert normalization_from_config_text(text) == Normalization(
        (1., 2., 3.), (1., 1., 1.), True)
    assert not marker.exists()
    # anything but literals is unknown, not an error
    assert normalization_from_config_text(
        'model = dict(data_preprocessor=dict(mean=os.environ))') is None
    assert normalization_from_config_text('model = (') is None


# --------------------------------------------------------------------------
# teacher evaluation
# --------------------------------------------------------------------------
class _GroundTruthTeacher(nn.Module):
    """Predicts every image's ground truth with score 1 (AP 1)."""

    def __init__(self, detector):
        super().__init__()
        self.data_preprocessor = detector.data_preprocessor
        self.images = []

    def test_step(self, batch):
        samples = self.data_preprocessor(batch, False)['data_samples']
        for sample in samples:
            gt = sample.gt_instances
            sample.pred_instances = InstanceData(
                bboxes=gt.bboxes,
                labels=gt.labels,
                scores=torch.ones(len(gt.labels)))
            self.images.append(sample.img_id)
        return samples


@pytest.mark.parametrize('num_images', [2, 4, 100])
@pytest.mark.slow
def test_teacher_evaluation_covers_only_the_evaluated_images(
        num_images, teacher_checkpoint, shapes_root, tmp_path):
    """A perfect teacher scores AP 1 on any prefix of the val set: the
    CocoMetric is restricted to the evaluated images (unrestricted, the
    unseen images' objects would count as misses)."""
    runner = _runner(teacher_checkpoint, str(tmp_path), data_root=shapes_root)
    teacher = _GroundTruthTeacher(runner.model)
    ap = evaluate_teacher(teacher, runner, num_images)
    assert len(teacher.images) == min(num_images, 4)
    assert ap == pytest.approx(1.0)


@pytest.mark.slow
def test_useless_teacher_stops_the_run(teacher_checkpoint, shapes_root,
                                       tmp_path, logged):
    runner = _runner(
        teacher_checkpoint,
        str(tmp_path / 'work'),
        data_root=shapes_root,
        **{
            'teacher_check.num_images': 4,
            'teacher_check.min_ap': 0.05
        })
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    print('\n' + message)
    assert message.startswith(
        f'Teacher pre-flight failed: the teacher ({teacher_checkpoint}) '
        'reaches bbox AP 0.000 on the first 4 validation images, below '
        'teacher_check.min_ap=0.05')
    assert 'teacher_check.num_images=0' in message
    assert any(
        m.startswith('Teacher pre-flight: bbox AP 0.000 on the first '
                     '4 validation images') for m in logged), logged
    assert runner.iter == 0


@pytest.mark.slow
def test_teacher_evaluation_leaves_the_random_state(teacher_checkpoint,
                                                    shapes_root, tmp_path,
                                                    logged):
    runner = _runner(teacher_checkpoint, str(tmp_path), data_root=shapes_root)
    hook = TeacherCheckHook(num_images=4, min_ap=0.0)  # arguments win
    before = get_rng_state()
    hook.before_train(runner)
    after = get_rng_state()
    assert any(m.startswith('Teacher pre-flight: bbox AP') for m in logged)
    assert after['python'] == before['python']
    assert torch.equal(after['numpy']['keys'], before['numpy']['keys'])
    assert torch.equal(after['torch'], before['torch'])


@pytest.mark.slow
def test_teacher_check_settings_and_plain_models(teacher_checkpoint,
                                                 shapes_root, tmp_path):
    runner = _runner(
        teacher_checkpoint,
        str(tmp_path / 'a'),
        data_root=shapes_root,
        **{'teacher_check.num_imgs': 3})
    with pytest.raises(
            ValueError, match=r"Unknown teacher_check keys "
            r"\['num_imgs'\]"):
        TeacherCheckHook().before_train(runner)
    runner.cfg.teacher_check = dict(num_images=0, min_ap=0.05)
    with pytest.raises(ValueError, match='min_ap <= 1'):
        TeacherCheckHook(num_images=1, min_ap=30).before_train(runner)
    plain = _runner(
        None,
        str(tmp_path / 'b'),
        config=STUDENT_CONFIG,
        data_root=shapes_root)
    with pytest.raises(TypeError, match='TeacherCheckHook needs a distiller'):
        TeacherCheckHook().before_train(plain)
