"""Hierarchical clustering (HC) backbone, Suzuki: soft clustering at downsampling layers.

``clustering``: the soft clustering module and the cluster-based decoding. ``backbone``: the
wrapper that plugs it into a timm ResNet encoder's last downsampling layers. ``models``: the HC
models (``hcfcn32``, ``hcfpn``, ``hcpspnet``, ``hcdeeplabv3``), registered in ``MODELS`` when
:mod:`benchmark.models` is imported. This package's ``__init__`` imports nothing (``methods``
imports every subpackage, and the models import :mod:`benchmark.models`).
"""
