"""Packaging for vsvideogen: deep-learning video filters for VapourSynth."""
from setuptools import setup

setup(
    name="vsvideogen",
    version="0.1.0",
    description="Neural frame interpolation, super-resolution and restoration for VapourSynth and ffmpeg",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.12",
    packages=[
        "vsvideogen",
        "vsvideogen.vs",
        "vsvideogen.ops",
        "vsvideogen.models",
        "vsvideogen.models.archs",
        "vsvideogen.filters",
        "vsvideogen.train",
        "vsvideogen.weights",
        "vsvideogen.commands",
        "vsvideogen.kernels",
    ],
    # The CUDA sources live at the top-level kernels/ folder and ship inside the package as vsvideogen.kernels.
    package_dir={"vsvideogen.kernels": "kernels"},
    package_data={"vsvideogen.kernels": ["*.cu", "*.cuh"], "vsvideogen.weights": ["*.safetensors", "*.md", "*.txt"]},
    install_requires=[
        "vapoursynth>=81",
        "vapoursynth-bestsource",
        "torch>=2.4",
        "numpy>=1.26",
        "safetensors>=0.4",
        "platformdirs>=3",
        "tqdm>=4.60",
        "imageio-ffmpeg>=0.5",
        "matplotlib>=3.8",
        "pillow>=10",
        "cupy-cuda13x>=13",
        "scikit-video>=1.1.11",
    ],
    extras_require={
        "test": ["pytest>=8"],
    },
    entry_points={"console_scripts": ["vsvideogen=vsvideogen.cli:main"]},
)
