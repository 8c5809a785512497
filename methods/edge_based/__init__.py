"""Marin et al. 2019: edge-based adaptive downsampling. ``method`` (the registered method, its
auxiliary double U-Net and that net's preparation step), ``sampling_tensor`` (the ground-truth
sampling tensor, energy (2) under the covering constraints (3)), ``sampling_points`` (the Fig 3
study), ``oracle`` (``edge_based_oracle``: the ground-truth tensor as the sampler), ``perf``."""
from methods.edge_based import method, oracle, sampling_points  # noqa: F401  (register the methods and the study)
