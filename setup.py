"""trackrcnn_d2: TrackR-CNN (Voigtlaender et al., CVPR 2019) as a Detectron2 extension.

detectron2 is deliberately not listed in install_requires: it is not on PyPI under that name,
so listing it would make ``pip install -e .`` fail. ``import trackrcnn_d2`` checks for it and
explains how to install it (see README, "Installing detectron2").
"""
import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class BuildPyWithConfigs(build_py):
    """Ships the top-level configs/ as the package data trackrcnn_d2/configs, where
    trackrcnn_d2.model_zoo.get_config_file finds them after a normal install. An editable install
    builds no copy: get_config_file then reads configs/ beside the package."""

    def run(self):
        super().run()
        if not getattr(self, "editable_mode", False):
            target = os.path.join(self.build_lib, "trackrcnn_d2", "configs")
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs"),
                target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__")
            )


setup(
    name="trackrcnn_d2",
    version="0.1.0",
    description="TrackR-CNN for Multi-Object Tracking and Segmentation, as a Detectron2 extension",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["trackrcnn_d2", "trackrcnn_d2.*"]),
    install_requires=[
        "numpy>=1.24",
        "scipy",
        "pycocotools>=2.0.6",
        "opencv-python",
        "motmetrics>=1.4",
        "tqdm",
        "tensorboard",
        "matplotlib",
        "fvcore",
        "iopath<0.1.10",
    ],
    extras_require={
        "test": [
            "pytest>=7", "pytest-timeout>=2.1", "pytest-randomly>=3.12", "trackeval", "ruff",
            "numpy>=2.3",
        ],
    },
    cmdclass={"build_py": BuildPyWithConfigs},
    entry_points={
        "console_scripts": [
            "trackrcnn-eval=trackrcnn_d2.evaluation.__main__:main",
        ],
    },
)
