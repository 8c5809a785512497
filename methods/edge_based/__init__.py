"""Marin et al. 2019: edge-based adaptive downsampling. ``method`` (the registered method and its
auxiliary double U-Net), ``sampling_tensor`` (the ground-truth sampling tensor, energy (2)
under the covering constraints (3)), ``sampling_points`` (the Fig 3 study), ``perf``."""
from methods.edge_based import method  # noqa: F401  (registers edge_based)
