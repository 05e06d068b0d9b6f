"""CUDA sources of vsvideogen's ops, shipped as package data (``importlib.resources.files(__name__)``)."""
