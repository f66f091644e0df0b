"""What differs between the supported stacks, in one place.

mmkd_det is tested on three stacks (docs/installation.md,
requirements/stacks/): upstream OpenMMLab on torch 2.1 and on torch 2.13
(mmengine 0.10.7, mmcv 2.1, mmdet 3.3) and OneDL's forks on torch 2.10
(onedl-mmengine 0.10.12, onedl-mmcv 2.3, onedl-mmdetection 3.5). The forks
install the same ``mmengine``/``mmcv``/``mmdet`` modules under other
distribution names, so ``setup.py`` cannot require either; instead
:func:`check_stack` runs when ``mmkd_det`` is imported and refuses a
combination known not to work, with a message naming the fix, rather than
letting it fail inside a training step. (The one MMEngine loop difference
that mmkd_det meets, how a resumed loop skips trained batches, is handled
where it is used: ``RNGStateHook``'s iterator wrapper.)
"""
import importlib
from importlib import metadata
from typing import Dict, Tuple

import numpy as np
import torch

INSTALL_DOC = 'docs/installation.md'

# distributions that install each module (mmcv-full is mmcv 1.x)
PROVIDERS: Dict[str, Tuple[str, ...]] = {
    'mmengine': ('mmengine', 'mmengine-lite', 'onedl-mmengine'),
    'mmcv': ('mmcv', 'mmcv-lite', 'mmcv-full', 'onedl-mmcv'),
    'mmdet': ('mmdet', 'onedl-mmdetection'),
}


def installed_providers(module: str) -> Dict[str, str]:
    """``{distribution: version}`` of the installed distributions that
    provide ``module`` (a key of :data:`PROVIDERS`)."""
    found = {}
    for name in PROVIDERS[module]:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _check_one_provider(module: str) -> None:
    found = installed_providers(module)
    if len(found) > 1:
        listed = ', '.join(f'{n} {v}' for n, v in found.items())
        raise ImportError(
            f'Both {listed} are installed: they write the same `{module}` '
            'module over each other, so which files are loaded is '
            f'undefined. Keep one stack: `pip uninstall {" ".join(found)}`, '
            'then reinstall the one you use (upstream OpenMMLab or OneDL, '
            f'see {INSTALL_DOC}).')


def _check_torch_numpy() -> None:
    # torch < 2.3 was built against numpy 1.x; with numpy 2 it imports but
    # cannot exchange arrays (RNGStateHook would fail at the first save).
    try:
        torch.from_numpy(np.zeros(1))
    except RuntimeError as err:
        raise ImportError(
            f'torch {torch.__version__} cannot exchange arrays with numpy '
            f'{np.__version__} ({err}). This torch was built against numpy '
            '1.x: pip install "numpy<2".') from err


def _check_mmcv_ops() -> None:
    mmcv = importlib.import_module('mmcv')
    try:
        importlib.import_module('mmcv._ext')
    except ImportError as err:
        missing = isinstance(err, ModuleNotFoundError)
        why = ('was installed without its compiled ops (mmcv-lite, or built '
               'with MMCV_WITH_OPS=0)'
               if missing else 'has compiled ops that do not load with torch '
               f'{torch.__version__}; mmcv must be built against the very '
               'torch installed')
        raise ImportError(
            f'mmcv {mmcv.__version__} {why}: {err}. mmdet\'s RoI heads need '
            'them. Reinstall mmcv for this torch: OpenMMLab\'s prebuilt '
            'wheel if one exists for it, otherwise compile it: '
            'MMCV_WITH_OPS=1 pip install --no-build-isolation '
            '--no-binary mmcv,onedl-mmcv --force-reinstall --no-deps '
            f'<mmcv or onedl-mmcv>==<version> (see {INSTALL_DOC}).') from err


def _check_mmdet_accepts_mmcv() -> None:
    try:
        importlib.import_module('mmdet')
    except AssertionError as err:  # mmdet's own mmcv version check
        raise ImportError(
            f'mmdet refuses the installed mmcv: {err} Tested pairs: mmdet '
            '3.3 with mmcv 2.1 (upstream), onedl-mmdetection 3.5 with '
            f'onedl-mmcv 2.3 (OneDL); see {INSTALL_DOC}.') from err


def check_stack() -> None:
    """Refuse, with the fix, a combination known not to work.

    Checks, in order: each of mmengine, mmcv and mmdet comes from one
    distribution (not upstream and OneDL at once), torch can use the
    installed numpy, mmcv's compiled ops load with the installed torch, and
    mmdet accepts the installed mmcv.

    Raises:
        ImportError: naming the problem and the fix.
    """
    for module in PROVIDERS:
        _check_one_provider(module)
    _check_torch_numpy()
    _check_mmcv_ops()
    _check_mmdet_accepts_mmcv()
