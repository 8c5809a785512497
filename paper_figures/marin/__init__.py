"""Marin et al. 2019 (edge-based downsampling): Figs 3, 8-14 and Tables 2-5 on our rows."""
