"""The superpixels track: ``segment(image, n_superpixels) -> labels`` (methods.base.SuperpixelMethod).

Each algorithm file registers its members in ``SUPERPIXEL_METHODS``: classical ones (``classical``:
SLIC, Felzenszwalb, SEEDS, LSC; ``snic``; ``ers``) through :class:`ClassicalSuperpixels`, deep
ones (``ssn``, ``scn``, ``pcnet``, ``hcssn``) as trainable modules. Heavy libraries (OpenCV,
scikit-image) are imported inside the functions that need them, so ``import methods`` stays cheap.
"""
from methods.superpixels import classical, ers, hcssn, pcnet, scn, snic, ssn  # noqa: F401  (register the members)
