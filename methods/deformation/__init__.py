"""Jin et al. 2022: learned deformation downsampling. ``method`` (deformation and
deformation_single: the deformation module and the edge loss), ``sampler`` (the Gaussian-kernel
deformed sampler, eq. 3, and the edge target), ``edge_sim`` (the simulated edge-based oracle of
Appendix A.5) and ``interpolation`` (the learned resizer baseline)."""
from methods.deformation import edge_sim, interpolation, method  # noqa: F401  (register the methods)
