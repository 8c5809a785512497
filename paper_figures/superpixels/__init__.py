"""The superpixels track (Wang et al. PCNet Figs 6-7, Suzuki Figs 8-9): BR-BP curves and ASA, BR
and UE against the measured superpixel count, from ``dsbench segment-superpixels`` rows."""
