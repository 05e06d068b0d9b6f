"""Quality-and-speed benchmarks of vsvideogen filters against classical and neural anchors.

Run a benchmark as a module, e.g. ``.venv/bin/python -m benchmarks.interpolate``; results land in
``benchmarks/results/``.
"""
