"""Hierarchical clustering (HC) backbone, Suzuki: soft clustering at downsampling layers.

``clustering``: the soft clustering module and the cluster-based decoding. ``backbone``: the
wrapper that plugs it into a timm ResNet encoder's last downsampling layers. ``models``: the HC
models (``hcfcn32``, ``hcfpn``, ``hcpspnet``, ``hcdeeplabv3``), registered in ``MODELS`` here,
when ``methods`` is imported (the harness never imports a method family).
"""
from methods.hierarchical_clustering import method, models  # noqa: F401  (registers the HC models and the method)
