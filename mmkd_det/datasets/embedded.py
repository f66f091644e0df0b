"""The embedded datasets the tools know: one descriptor per dataset.

The comparison tool, the quickstart and ``tools/make_dataset.py`` take a
dataset only through :data:`EMBEDDED_DATASETS` (via a pair's ``dataset`` in
:mod:`mmkd_det.utils.methods`), so the next dataset is one entry here.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from .digits import DIGITS_SPEC
from .generation import DatasetSpec, generate_dataset, meta_mismatch, read_meta
from .shapes import SHAPES_SPEC

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@dataclass(frozen=True)
class EmbeddedDataset:
    """One embedded dataset.

    Attributes:
        spec (DatasetSpec): Its generator.
        default_root (str): Where the tools generate and read it, relative
            to the repository root (e.g. ``data/digits``).
        reference_dir (str): Its committed comparison records, relative to
            the repository root (e.g. ``benchmarks/digits``).
    """
    spec: DatasetSpec
    default_root: str
    reference_dir: str

    @property
    def name(self) -> str:
        """E.g. ``'digits'``."""
        return self.spec.name

    def root(self) -> str:
        """Absolute default root."""
        return osp.join(REPO_ROOT, self.default_root)

    def reference(self) -> str:
        """Absolute folder of the committed records."""
        return osp.join(REPO_ROOT, self.reference_dir)

    def make_command(self, out_dir: Optional[str] = None) -> str:
        """The command that (re)generates it, for error messages."""
        return (f'python tools/make_dataset.py {self.name} --out '
                f'{out_dir or self.default_root}')

    def generate(self,
                 out_dir: Optional[str] = None,
                 **kwargs) -> Dict[str, Any]:
        """:func:`~.generation.generate_dataset` of this dataset (default
        root unless ``out_dir``)."""
        return generate_dataset(self.spec, out_dir or self.root(), **kwargs)

    def mismatch(self, out_dir: str) -> Optional[Dict[str, Tuple]]:
        """How the dataset in ``out_dir`` differs from the defaults: None
        when it has no ``meta.json`` (not a generated dataset: nothing to
        compare) or matches; else ``{name: (found, default)}``."""
        meta = read_meta(out_dir)
        return None if meta is None else meta_mismatch(self.spec, meta)


EMBEDDED_DATASETS: Dict[str, EmbeddedDataset] = {
    d.name: d
    for d in (
        EmbeddedDataset(DIGITS_SPEC, 'data/digits', 'benchmarks/digits'),
        EmbeddedDataset(SHAPES_SPEC, 'data/shapes', 'benchmarks/shapes'),
    )
}


def embedded_dataset(name: str) -> EmbeddedDataset:
    """The descriptor of an embedded dataset.

    Raises:
        KeyError: ``name`` is not one (the message lists them).
    """
    if name not in EMBEDDED_DATASETS:
        raise KeyError(f'{name!r} is not an embedded dataset; embedded: '
                       f'{", ".join(EMBEDDED_DATASETS)} '
                       '(mmkd_det/datasets/embedded.py)')
    return EMBEDDED_DATASETS[name]
