"""Alcover-Couso et al. (soft labels): Tables I, III-V and Figs 7, 8 on our rows."""
