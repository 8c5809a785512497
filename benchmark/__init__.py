"""dsbench: a reproducibility benchmark for efficient segmentation by smart downsampling."""

__version__ = "0.1.0"
