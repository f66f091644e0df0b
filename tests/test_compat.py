"""The stack differences: the import-time check of torch/mmcv/mmdet and the
two MMEngine loop protocols that exact resume sits on.

The check's failure cases are simulated (a second distribution, mmcv ops
that do not load, numpy 2 beside an old torch, mmdet refusing mmcv); the
resume protocols are run with stand-ins of MMEngine 0.10.7's iterator and
OneDL 0.10.12's (``skip_iter``, lazily made DataLoader iterator), so both
are tested on every stack (the real exact-resume runs are in
test_resume.py).
"""
import os
import subprocess
import sys
from importlib import metadata
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO_ROOT

from mmkd_det.engine.rng_state_hook import (_RestoreBeforeNextBatch,
                                            get_rng_state)
from mmkd_det.utils import compat


def test_installed_stack_passes_the_check():
    compat.check_stack()
    for module in compat.PROVIDERS:
        assert len(compat.installed_providers(module)) == 1, module


def _fake_versions(monkeypatch, versions):

    def version(name):
        if name in versions:
            return versions[name]
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(compat.metadata, 'version', version)


def test_upstream_and_onedl_mmcv_together_are_refused(monkeypatch):
    _fake_versions(
        monkeypatch, {
            'mmcv': '2.1.0',
            'onedl-mmcv': '2.3.6',
            'mmdet': '3.3.0',
            'mmengine': '0.10.7'
        })
    with pytest.raises(ImportError) as err:
        compat.check_stack()
    assert 'Both mmcv 2.1.0, onedl-mmcv 2.3.6 are installed' in str(err.value)
    assert 'pip uninstall mmcv onedl-mmcv' in str(err.value)


@pytest.mark.slow
def test_import_refuses_a_second_mmcv_distribution(tmp_path):
    """Real import: a OneDL mmcv's metadata beside the installed mmcv."""
    installed = compat.installed_providers('mmcv')
    other = 'mmcv' if 'onedl-mmcv' in installed else 'onedl_mmcv'
    info = tmp_path / f'{other}-9.9.9.dist-info'
    info.mkdir()
    (info / 'METADATA'
     ).write_text(f'Metadata-Version: 2.1\nName: {other}\nVersion: 9.9.9\n')
    env = dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO_ROOT}')
    out = subprocess.run([sys.executable, '-c', 'import mmkd_det'],
                         env=env,
                         capture_output=True,
                         text=True,
                         timeout=300)  # 2 s of CPU; the cores are shared
    assert out.returncode != 0
    assert 'ImportError: Both mmcv' in out.stderr, out.stderr[-2000:]
    assert f'{other.replace("_", "-")} 9.9.9' in out.stderr


def _failing_import(monkeypatch, module, error):
    real = compat.importlib.import_module

    def import_module(name, *args):
        if name == module:
            raise error
        return real(name, *args)

    monkeypatch.setattr(compat.importlib, 'import_module', import_module)


@pytest.mark.parametrize(
    'error, message', [
        (ImportError('mmcv/_ext.so: undefined symbol: _ZN3c10...'),
         'do not load with torch'),
        (ModuleNotFoundError("No module named 'mmcv._ext'"),
         'without its compiled ops'),
    ],
    ids=['built-for-other-torch', 'no-ops'])
def test_mmcv_ops_that_do_not_load_are_refused(error, message, monkeypatch):
    _failing_import(monkeypatch, 'mmcv._ext', error)
    with pytest.raises(ImportError, match=message) as err:
        compat.check_stack()
    assert 'MMCV_WITH_OPS=1 pip install --no-build-isolation' in str(err.value)
    assert str(error) in str(err.value)


def test_mmdet_refusing_mmcv_is_reported_with_the_tested_pairs(monkeypatch):
    _failing_import(
        monkeypatch, 'mmdet',
        AssertionError('MMCV==2.3.6 is used but incompatible. Please '
                       'install mmcv>=2.0.0rc4, <2.2.0.'))
    with pytest.raises(
            ImportError,
            match='mmdet refuses the installed '
            r'mmcv: MMCV==2.3.6 .*mmdet 3.3 with mmcv 2.1'):
        compat.check_stack()


def test_numpy_2_beside_an_old_torch_is_refused(monkeypatch):

    def from_numpy(array):
        raise RuntimeError('Numpy is not available')

    monkeypatch.setattr(compat.torch, 'from_numpy', from_numpy)
    with pytest.raises(ImportError, match=r'pip install "numpy<2"'):
        compat.check_stack()


# --------------------------------------------------------------------------
# exact resume: the two ways IterBasedTrainLoop skips trained batches
# --------------------------------------------------------------------------
class _EagerIterator:
    """MMEngine 0.10.7: the loop fetches the trained batches to skip them;
    the DataLoader iterator exists from the start."""

    def __init__(self):
        self.fetch_states = []  # torch's generator state at each fetch

    def __iter__(self):
        return self

    def __next__(self):
        self.fetch_states.append(torch.get_rng_state())
        torch.rand(3)  # the data pipeline draws random numbers
        return len(self.fetch_states)


class _LazyIterator(_EagerIterator):
    """OneDL MMEngine 0.10.12: ``skip_iter`` advances the sampler, and the
    DataLoader iterator is made at the next batch (drawing a base seed)."""

    def __init__(self):
        super().__init__()
        self.started = False
        self.skipped = None

    def skip_iter(self, num_iters):
        self.skipped = num_iters

    def _ensure_iterator(self):
        if not self.started:
            torch.randint(2**31, ())  # the DataLoader's base seed
            self.started = True

    def __next__(self):
        self._ensure_iterator()
        return super().__next__()


def _resume(iterator, iters, state):
    """What RNGStateHook.before_train and IterBasedTrainLoop.run do."""
    loop = SimpleNamespace(dataloader_iterator=iterator, iter=iters)
    loop.dataloader_iterator = _RestoreBeforeNextBatch(loop, state)
    torch.rand(7)  # the runner's set-up draws after the checkpoint
    if hasattr(loop.dataloader_iterator, 'skip_iter'):  # as run() decides
        loop.dataloader_iterator.skip_iter(iters)
    else:
        for _ in range(iters):
            next(loop.dataloader_iterator)
    next(loop.dataloader_iterator)  # the first resumed batch
    return loop


@pytest.mark.parametrize(
    'make_iterator', [_EagerIterator, _LazyIterator],
    ids=['mmengine-0.10.7', 'mmengine-0.10.12'])
def test_states_are_restored_right_before_the_first_resumed_batch(
        make_iterator):
    """Both skip by fetching the 3 trained batches (dataloader workers'
    random streams advance as in the interrupted run), then restore."""
    torch.manual_seed(0)
    saved = get_rng_state()
    iterator = make_iterator()
    loop = _resume(iterator, 3, saved)
    assert len(iterator.fetch_states) == 4
    assert torch.equal(iterator.fetch_states[-1], saved['torch'])
    assert not any(
        torch.equal(s, saved['torch']) for s in iterator.fetch_states[:3])
    assert loop.dataloader_iterator is iterator  # unwrapped after restoring
    assert getattr(iterator, 'skipped', None) is None  # no sampler-only skip


def test_fast_forward_on_resume_restores_at_the_first_batch():
    """OneDL 0.10.12's fast_forward_on_resume=True skips nothing."""
    torch.manual_seed(0)
    saved = get_rng_state()
    iterator = _EagerIterator()
    loop = SimpleNamespace(
        dataloader_iterator=iterator, iter=3, fast_forward_on_resume=True)
    loop.dataloader_iterator = _RestoreBeforeNextBatch(loop, saved)
    torch.rand(7)
    next(loop.dataloader_iterator)
    assert torch.equal(iterator.fetch_states[0], saved['torch'])
