"""Superpixel algorithms for the superpixels track: ``segment(image, n_superpixels) -> labels``.

Nothing is registered here; heavy libraries (OpenCV, scikit-image) are imported inside the
functions that need them so that ``import methods`` stays cheap.
"""
