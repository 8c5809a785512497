"""Alcover-Couso et al.: soft-label downsampling. ``method`` (the registered method), ``loss``
(KL divergence on soft labels, the Sec IV-B augmentation) and ``priors`` (the prior discrepancy
study, eq. 5). The soft label sampling itself is an op: :mod:`benchmark.ops.soft_labels`."""
from methods.soft_labels import method, priors  # noqa: F401  (register soft_labels and its study)
