"""Alcover-Couso et al.: soft-label downsampling. ``method`` (the registered method), ``loss``
(KL divergence on soft labels, the Sec IV-B augmentation) and ``priors`` (the prior discrepancy
study, eq. 5). The soft label sampling itself is an op: :mod:`benchmark.ops.soft_labels`."""
from methods.soft_labels import method  # noqa: F401  (registers soft_labels)
