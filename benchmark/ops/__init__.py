"""Shared tensor operations used by several method families: grid resampling and its
conventions (:mod:`benchmark.ops.sampling`), unsampling (bilinear, barycentric, nearest), soft
label sampling, and the 9-neighbour cell association. Importing this package registers every
unsample and label mode (top-down: each implementation imports the registries from
``sampling``, nothing imports back).
"""
from benchmark.ops import sampling  # noqa: F401  (the conventions and the registries first)
from benchmark.ops import barycentric, nearest_unsample, soft_labels  # noqa: F401,E402  (register their modes)
