"""The wheelhouse that the GPU machine installs from (it has no network).

``python tools/gpu/wheelhouse.py build``  (``make gpu-wheelhouse``, here)
``python tools/gpu/wheelhouse.py check``  (here or on the device)

The GPU machine has Python 3.12 with torch 2.11.0+cu130, numpy, opencv
(headless), Pillow, PyYAML, scipy and matplotlib (so also their
dependencies), but no mmcv, mmengine, mmdet or pycocotools. The wheelhouse
(git-ignored, carried with the checkout: at most 64 MiB) holds exactly the
rest, as cp312 manylinux or pure-Python wheels pinned to the versions this
checkout's ``make test`` runs with, plus mmcv 2.1.0 compiled with CUDA ops
for sm_90 against torch 2.11.0+cu130 (``../shared/wheels/cuda``, 55 minutes
to build, see its README).

Everything is installed with ``--no-deps``: mmengine and mmcv require
``opencv-python``, which the device has as ``opencv-python-headless``, so a
resolving install would fail offline. ``build`` instead checks the closure
itself: every requirement of every wheel is in the wheelhouse or on the
device's preinstalled list.

The standard library and ``packaging`` only (the device has it, with
matplotlib): it runs there before anything is installed.
"""
import argparse
import email.parser
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
import zipfile
from typing import Dict, List

#: what the device lacks: project -> pinned version (``make test``'s)
PINNED = {
    'mmengine': '0.10.7',
    'mmdet': '3.3.0',
    'pycocotools': '2.0.11',
    'addict': '2.4.0',
    'rich': '15.0.0',
    'markdown-it-py': '4.3.0',
    'mdurl': '0.1.2',
    'pygments': '2.21.0',
    'termcolor': '3.3.0',
    'yapf': '0.43.0',
    'platformdirs': '4.14.9',
    'shapely': '2.2.0',
    'terminaltables': '3.1.10',
    'tqdm': '4.70.1',
    'pytest': '9.2.0',
    'iniconfig': '2.3.1',
    'pluggy': '1.7.0',
    # pkg_resources, with which mmengine 0.10 resolves ``mmdet::`` configs
    # (setuptools 81 drops it; the device's own setuptools is unknown)
    'setuptools': '80.10.2',
}
MMCV = 'mmcv-2.1.0-cp312-cp312-linux_x86_64.whl'
DEFAULT_MMCV_SOURCE = osp.join('..', 'shared', 'wheels', 'cuda', MMCV)
#: on the device already (torch's and matplotlib's dependencies included)
PREINSTALLED = {
    'torch', 'numpy', 'opencv-python', 'opencv-python-headless', 'pillow',
    'pyyaml', 'scipy', 'matplotlib', 'contourpy', 'cycler', 'fonttools',
    'kiwisolver', 'packaging', 'pyparsing', 'python-dateutil', 'six',
    'filelock', 'typing-extensions', 'sympy', 'mpmath', 'networkx', 'jinja2',
    'markupsafe', 'fsspec', 'triton'
}
#: PEP 508 marker values of the device's Python
DEVICE_ENV = dict(
    python_version='3.12',
    python_full_version='3.12.3',
    sys_platform='linux',
    platform_system='Linux',
    platform_machine='x86_64',
    implementation_name='cpython',
    platform_python_implementation='CPython',
    os_name='posix',
    extra='')
CARRY_LIMIT = 64 * 2**20  # bytes, the device call's carry limit
TARGET = [
    '--python-version', '3.12', '--implementation', 'cp', '--abi', 'cp312',
    '--only-binary=:all:', '--platform', 'manylinux2014_x86_64', '--platform',
    'manylinux_2_17_x86_64', '--platform', 'manylinux_2_28_x86_64'
]


def normalize(name: str) -> str:
    """PEP 503 project name: ``Markdown_It.py`` -> ``markdown-it-py``."""
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_project(filename: str) -> str:
    """The normalized project name of a wheel file name."""
    return normalize(filename.split('-')[0])


def expected_projects() -> List[str]:
    """Every project the wheelhouse must hold, mmcv included."""
    return sorted([*PINNED, 'mmcv'])


def wheels(dest: str) -> Dict[str, str]:
    """Project -> wheel file name of the wheels in ``dest``."""
    return {
        wheel_project(f): f
        for f in sorted(os.listdir(dest)) if f.endswith('.whl')
    }


def _requirements(path: str) -> List[str]:
    """Project names a wheel requires on the device (``Requires-Dist``
    entries whose marker holds for Linux x86_64, CPython 3.12, no extras)."""
    from packaging.requirements import Requirement
    with zipfile.ZipFile(path) as whl:
        meta = next(n for n in whl.namelist()
                    if n.endswith('.dist-info/METADATA'))
        msg = email.parser.Parser().parsestr(whl.read(meta).decode())
    names = []
    for line in msg.get_all('Requires-Dist') or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(DEVICE_ENV):
            names.append(normalize(req.name))
    return names


def check(dest: str) -> List[str]:
    """Problems of the wheelhouse at ``dest`` (an empty list: it is fine).

    Checks: one wheel per expected project and nothing else, the pinned
    versions, cp312 or pure-Python manylinux/any tags, mmcv being the CUDA
    build's file, every requirement inside the wheelhouse or preinstalled,
    and the total size within the carry limit.
    """
    if not osp.isdir(dest):
        return [f'{dest} does not exist: run `make gpu-wheelhouse`']
    found = wheels(dest)
    problems = [f'missing: {p}' for p in expected_projects() if p not in found]
    problems += [
        f'unexpected: {f}' for p, f in found.items()
        if p not in expected_projects()
    ]
    for project, filename in found.items():
        parts = filename[:-len('.whl')].split('-')
        if project in PINNED and parts[1] != PINNED[project]:
            problems.append(f'{filename}: not the pinned {PINNED[project]}')
        python, platform = parts[-3], parts[-1]
        if not {'py3', 'cp312'} & set(python.split('.')) or not (
                platform == 'any' or 'x86_64' in platform):
            problems.append(f'{filename}: not a cp312/py3 linux wheel')
    if 'mmcv' in found and found['mmcv'] != MMCV:
        problems.append(f'{found["mmcv"]}: expected {MMCV} (CUDA, sm_90)')
    have = set(found) | PREINSTALLED
    for filename in found.values():
        try:
            missing = set(_requirements(osp.join(dest, filename))) - have
        except (zipfile.BadZipFile, StopIteration, OSError) as err:
            problems.append(f'{filename}: unreadable wheel ({err})')
            continue
        problems += [f'{filename} requires {m}, absent' for m in missing]
    size = total_bytes(dest)
    if size > CARRY_LIMIT:
        problems.append(f'{size / 2**20:.1f} MiB exceeds the carry limit '
                        f'{CARRY_LIMIT / 2**20:.0f} MiB')
    return problems


def total_bytes(dest: str) -> int:
    return sum(
        osp.getsize(osp.join(dest, f)) for f in os.listdir(dest)
        if osp.isfile(osp.join(dest, f)))


def build(dest: str, mmcv_wheel: str, python: str = sys.executable) -> None:
    """Download the pinned wheels for the device and copy the mmcv wheel.

    Args:
        dest (str): the wheelhouse folder (emptied first).
        mmcv_wheel (str): the CUDA mmcv wheel to copy.
        python (str): the interpreter whose pip downloads.
    """
    if not osp.isfile(mmcv_wheel):
        raise SystemExit(
            f'{mmcv_wheel} not found: the CUDA mmcv wheel (see '
            '../shared/wheels/README.md) is needed; pass --mmcv-wheel PATH')
    start = time.monotonic()
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    subprocess.run([
        python, '-m', 'pip', 'download', '--disable-pip-version-check',
        '--no-deps', '--dest', dest, *TARGET, *(f'{p}=={v}'
                                                for p, v in PINNED.items())
    ],
                   check=True)
    shutil.copy(mmcv_wheel, osp.join(dest, MMCV))
    problems = check(dest)
    for line in problems:
        print(f'PROBLEM: {line}')
    print(f'{dest}: {len(wheels(dest))} wheels, '
          f'{total_bytes(dest) / 2**20:.1f} MiB, built in '
          f'{time.monotonic() - start:.0f} s')
    if problems:
        raise SystemExit(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['build', 'check', 'list'])
    parser.add_argument('--dest', default=osp.join('wheelhouse', 'gpu'))
    parser.add_argument('--mmcv-wheel', default=DEFAULT_MMCV_SOURCE)
    args = parser.parse_args(argv)
    if args.action == 'build':
        build(args.dest, args.mmcv_wheel)
    elif args.action == 'list':
        print('\n'.join(expected_projects()))
    else:
        problems = check(args.dest)
        print('\n'.join(problems) or f'{args.dest}: complete')
        return 1 if problems else 0
    return 0


if __name__ == '__main__':
    sys.exit(main())
