"""Suzuki 2021 (hierarchical clustering): Figs 3, 5, 6, Tables 1 and 3, and Table 2's per-class claim."""
