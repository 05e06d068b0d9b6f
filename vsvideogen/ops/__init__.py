"""Device ops used by the models and frame I/O.

Each op has a plain-torch reference (``*_reference``) and a public function that runs the CuPy kernel from
``kernels/*.cu`` on CUDA tensors and the reference everywhere else.
"""
