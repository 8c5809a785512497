"""Marin's speed benchmarks: the sampling tensor and the barycentric unsampler at the paper's sizes."""
from methods.edge_based.perf import sampling_tensor, unsample  # noqa: F401  (register in PERF)
