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
reconstruction entry points with their plain numeric dtypes. Pickle protocol
2 (torch.save's default) stores the ``HistoryBuffer.min``-style statistics
methods as ``getattr(HistoryBuffer, 'min')``; instead of allowing the builtin
``getattr``, the name ``builtins.getattr`` is mapped to
:func:`history_buffer_getattr`, which resolves only those methods.
"""
import contextlib
import pickle
from typing import ContextManager, List

import numpy as np
import torch

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

    # numpy>=2 moved ``numpy.core`` to ``numpy._core``; pickles name either.
    numpy_core = getattr(np, '_core', None) or np.core
    safe: List[object] = [
        HistoryBuffer,
        (history_buffer_getattr, 'builtins.getattr'),
        numpy_core.multiarray._reconstruct,
        numpy_core.multiarray.scalar,
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


def checkpoint_safe_globals() -> ContextManager:
    """Context in which ``torch.load`` may read MMEngine's checkpoints.

    On torch >= 2.6 this is ``torch.serialization.safe_globals`` with
    :func:`safe_checkpoint_globals`, which removes them again on exit, so
    code outside the ``with`` block sees torch's own allow-list. Older torch
    versions load with ``weights_only=False`` by default and get a no-op.

    Returns:
        ContextManager: use as ``with checkpoint_safe_globals(): ...``.
    """
    if torch_version() < WEIGHTS_ONLY_DEFAULT_SINCE:
        return contextlib.nullcontext()
    return torch.serialization.safe_globals(safe_checkpoint_globals())
