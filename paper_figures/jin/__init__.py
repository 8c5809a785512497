"""Jin et al. 2022 (learned deformation): Figs 5, 6, 9, 13, 14 and Tables 2-8 on our rows."""
