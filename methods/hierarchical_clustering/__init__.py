"""Hierarchical clustering (HC) backbone, Suzuki: soft clustering at downsampling layers.

``clustering`` holds the soft clustering module and the cluster-based decoding; nothing is
registered yet, and this package imports nothing (``methods`` imports every subpackage).
"""
