"""Cost of a segmentation pipeline: MACs (fvcore), FLOPs, parameters, latency, memory."""
from benchmark.cost.macs import ALLOWLIST, HANDLES, MacCount, count_macs

__all__ = ["ALLOWLIST", "HANDLES", "MacCount", "count_macs"]
