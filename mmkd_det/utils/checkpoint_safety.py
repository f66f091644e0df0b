"""Let ``torch.load(weights_only=True)`` read MMEngine's own checkpoints.

The allow-list is applied only around the loads that need it
(:func:`checkpoint_safe_globals`, a context manager); importing mmkd_det
changes nothing in torch's process-wide state.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. MMEngine
0.10.7 loads checkpoints with that default, and its resume checkpoints hold the
message hub (``HistoryBuffer`` objects backed by numpy arrays), so resuming
fails with an ``UnpicklingError``. Rather than switching ``weights_only`` off
(which would let any checkpoint run arbitrary code), we allow-list exactly the
classes MMEngine writes: ``HistoryBuffer`` and the numpy array/scalar
reconstruction entry points with their plain numeric dtypes (on torch < 2.6,
where ``torch.load`` defaults to ``weights_only=False``, the same list is
enforced by :mod:`.restricted_load` inside the block). Pickle protocol
2 (torch.save's default) stores the ``HistoryBuffer.min``-style statistics
methods as ``getattr(HistoryBuffer, 'min')``; instead of allowing the builtin
``getattr``, the name ``builtins.getattr`` is mapped to
:func:`history_buffer_getattr`, which resolves only those methods.
"""
import importlib
import pickle
from typing import ContextManager, List

import numpy as np
import torch

from .restricted_load import restricted_torch_load

# numpy dtypes that MMEngine's log buffers and meta information can hold.
_SAFE_NUMPY_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                      'uint16', 'uint32', 'uint64', 'float16', 'float32',
                      'float64')

_HISTORY_BUFFER_METHODS = {'min', 'max', 'current', 'mean'}


def history_buffer_getattr(obj: object, name: str) -> object:
    """Stand-in for ``getattr`` while unpickling: HistoryBuffer methods only.

    Args:
        obj: the object pickle asks an attribute of.
        name (str): the attribute name.

    Returns:
        The registered statistics method ``HistoryBuffer.<name>``.
    """
    from mmengine.logging import HistoryBuffer

    # the built-in methods, plus any registered with register_statistics
    allowed = _HISTORY_BUFFER_METHODS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) in a weights_only checkpoint: '
        'only HistoryBuffer statistics methods are allowed.')


def safe_checkpoint_globals() -> List[object]:
    """The globals MMEngine checkpoints need beyond torch's default allow-list.

    Returns:
        list: classes and functions for
        ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging import HistoryBuffer

    # numpy>=2 moved ``numpy.core`` to ``numpy._core`` (numpy 1.26 has a
    # ``numpy._core.multiarray`` alias of the old module, older ones none)
    try:
        multiarray = importlib.import_module('numpy._core.multiarray')
    except ImportError:
        multiarray = np.core.multiarray
    safe: List[object] = [
        HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'),
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
    ]
    safe.extend(type(np.dtype(name)) for name in _SAFE_NUMPY_DTYPES)
    return safe


# torch.load defaults to weights_only=True, and add_safe_globals accepts the
# (callable, "module.name") form, from this version on.
WEIGHTS_ONLY_DEFAULT_SINCE = (2, 6)


def torch_version() -> tuple:
    """The installed torch version as ``(major, minor)``."""
    major, minor = torch.__version__.split('+')[0].split('.')[:2]
    return int(major), int(''.join(c for c in minor if c.isdigit()) or 0)


def uses_torch_allow_list() -> bool:
    """Whether torch's own allow-list (``safe_globals``) applies: torch
    >= 2.6; older torch gets :mod:`.restricted_load`."""
    return torch_version() >= WEIGHTS_ONLY_DEFAULT_SINCE


def checkpoint_safe_globals() -> ContextManager:
    """Context in which ``torch.load`` reads MMEngine's checkpoints, and
    nothing else, like ``weights_only=True``.

    The one place where the torch version matters for loading: on torch >=
    2.6 this is ``torch.serialization.safe_globals`` with
    :func:`safe_checkpoint_globals`, which removes them again on exit, so
    code outside the ``with`` block sees torch's own allow-list. Older torch
    loads with ``weights_only=False`` by default and cannot extend its
    allow-list; there, :func:`~.restricted_load.restricted_torch_load` gives
    ``torch.load`` the same allow-list for the block. Either way a global
    outside the list raises ``pickle.UnpicklingError`` ("Weights only load
    failed ...").

    Returns:
        ContextManager: use as ``with checkpoint_safe_globals(): ...``.
    """
    if uses_torch_allow_list():
        return torch.serialization.safe_globals(safe_checkpoint_globals())
    return restricted_torch_load(safe_checkpoint_globals())
