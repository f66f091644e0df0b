"""``weights_only`` loading with an allow-list on torch < 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True`` and lets the
allow-list be extended for a ``with`` block (``safe_globals``). Older torch
loads with ``weights_only=False`` by default (any checkpoint can run code),
and its own ``weights_only`` unpickler can neither be extended (before 2.4)
nor build anything but tensors and dicts, so it cannot read MMEngine's
checkpoints. :func:`restricted_torch_load` gives old torch the same promise
as 2.6: inside the block, ``torch.load`` without an explicit
``weights_only=False`` resolves only the globals on torch's own
``weights_only`` list plus the given ones, everything else is refused with
``pickle.UnpicklingError``. Restricting ``find_class`` is pickle's own way
of restricting what a pickle may build ("Restricting Globals" in the
:mod:`pickle` docs): a pickle can only call what ``find_class`` returned.
"""
import codecs
import collections
import contextlib
import functools
import pickle
import types
from typing import Iterator, List

import torch


def torch_allowed_globals() -> dict:
    """torch's built-in ``weights_only`` allow-list, ``{'module.name': obj}``
    (tensor and storage types, dtypes, the tensor rebuild functions,
    ``OrderedDict``; a private function, present from torch 1.13 on)."""
    from torch import _weights_only_unpickler
    return dict(_weights_only_unpickler._get_allowed_globals())


def _allow_list(extra: List[object]) -> dict:
    """``{'module.name': obj}`` for torch's list and ``extra``, whose items
    are objects or ``(obj, 'module.name')`` pairs (``add_safe_globals``'s
    forms)."""
    allowed = torch_allowed_globals()
    # what torch >= 2.6's own list adds to older ones (bytes in numpy
    # arrays are pickled through _codecs.encode): plain data, no code
    allowed.update({
        '_codecs.encode': codecs.encode,
        'builtins.bytearray': bytearray,
        'builtins.set': set,
        'builtins.complex': complex,
        'collections.Counter': collections.Counter,
        'torch.device': torch.device,
    })
    for item in extra:
        obj, name = item if isinstance(
            item, tuple) else (item, f'{item.__module__}.{item.__qualname__}')
        allowed[name] = obj
    return allowed


def restricted_pickle_module(extra: List[object]) -> types.ModuleType:
    """A ``pickle_module`` for ``torch.load`` that resolves only allowed
    globals.

    Args:
        extra (list): globals allowed beyond torch's own list: objects or
            ``(obj, 'module.name')`` pairs.

    Returns:
        module: with ``Unpickler`` and ``load``, as ``torch.load`` uses them.
    """
    allowed = _allow_list(extra)

    class Unpickler(pickle.Unpickler):

        def find_class(self, module: str, name: str) -> object:
            key = f'{module}.{name}'
            if key == '__builtin__.getattr':  # protocol 2's name for it
                key = 'builtins.getattr'
            if key in allowed:
                return allowed[key]
            raise pickle.UnpicklingError(
                f'Unsupported global: GLOBAL {key} is not allow-listed '
                '(mmkd_det.utils.checkpoint_safe_globals)')

    module = types.ModuleType('mmkd_det_restricted_pickle')
    module.Unpickler = Unpickler
    module.load = lambda file, **kwargs: Unpickler(file, **kwargs).load()
    return module


@contextlib.contextmanager
def restricted_torch_load(extra: List[object]) -> Iterator[None]:
    """Inside the block, ``torch.load`` loads like ``weights_only=True``
    with ``extra`` allow-listed (torch >= 2.6's ``safe_globals``).

    ``weights_only=False`` or an own ``pickle_module`` still loads without
    restriction, as on torch >= 2.6. ``torch.load`` is replaced for the
    whole process while the block runs (as ``safe_globals`` changes torch's
    process-wide allow-list) and restored on exit.

    Args:
        extra (list): see :func:`restricted_pickle_module`.

    Raises:
        pickle.UnpicklingError: from ``torch.load``, for a global outside
            the list ("Weights only load failed ...").
    """
    original = torch.load
    restricted = restricted_pickle_module(extra)

    @functools.wraps(original)
    def load(f,
             map_location=None,
             pickle_module=None,
             *,
             weights_only=None,
             **kwargs):
        if weights_only is False or pickle_module is not None:
            return original(f, map_location, pickle_module, **kwargs)
        try:
            return original(f, map_location, restricted, **kwargs)
        except pickle.UnpicklingError as err:
            raise pickle.UnpicklingError(
                'Weights only load failed (mmkd_det allow-list on torch '
                f'{torch.__version__}): {err}. Load only checkpoints you '
                'trust with weights_only=False.') from err

    torch.load = load
    try:
        yield
    finally:
        torch.load = original
