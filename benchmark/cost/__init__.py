"""Cost of a segmentation pipeline: MACs (fvcore), FLOPs, parameters, latency, memory.

Costs are integers named by convention: ``macs`` (one fused multiply-add = 1, fvcore's count)
and ``flops = 2 * macs``; see :mod:`benchmark.cost.macs` for how each op is counted.
"""
from benchmark.cost.macs import ALLOWLIST, HANDLES, MacCount, count_macs
from benchmark.cost.pipeline import ESTIMATED_STAGES, STAGES, cost_rows, count_params, pipeline_cost
from benchmark.cost.timing import MemoryNotMeasurable, measure_latency, peak_memory_mib

__all__ = ["ALLOWLIST", "ESTIMATED_STAGES", "HANDLES", "MacCount", "MemoryNotMeasurable", "STAGES", "cost_rows", "count_macs", "count_params",
           "measure_latency", "peak_memory_mib", "pipeline_cost"]
