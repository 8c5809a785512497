"""One colour and marker per method label, identical in every figure, and the one method order.

* The registered methods (:data:`PRIMARY`) keep the Okabe-Ito colour-blind-safe colours;
  uniform (the baseline) is black and dashed.
* Every variant label of ``workflows/config.yaml`` (e.g. ``edge_sim_r1``, ``soft_labels_mc_off``,
  ``uniform_bs8``) is listed in :data:`METHOD_ORDER` after its method and gets its own
  (colour, marker) pair from :data:`VARIANT_COLORS` x :data:`VARIANT_MARKERS` (12 and 7: coprime,
  so the first 84 variants all differ). A test checks every configured label is listed.
* A label nobody listed gets a pair picked by a stable hash among the pairs no listed label
  uses, so it never looks like a listed method and keeps its style across figures and runs.
"""
from __future__ import annotations

import hashlib
from typing import Dict, Iterable, List, Tuple

# The registered methods, each with an Okabe-Ito colour and its own marker.
PRIMARY: Dict[str, Tuple[str, str]] = {
    "uniform": ("#000000", "o"),
    "edge_based": ("#E69F00", "s"),
    "deformation": ("#0072B2", "^"),
    "deformation_single": ("#56B4E9", "v"),
    "edge_sim": ("#009E73", "D"),
    "interpolation": ("#D55E00", "P"),
    "soft_labels": ("#CC79A7", "X"),
    "hierarchical_clustering": ("#F0E442", "*"),
    "superpixels": ("#999999", "h"),
}
VARIANT_COLORS: List[str] = [
    "#8C564B", "#17BECF", "#BCBD22", "#7F7F7F", "#9467BD", "#E377C2", "#2CA02C", "#1F77B4",
    "#AEC7E8", "#FF9896", "#98DF8A", "#C5B0D5",
]
VARIANT_MARKERS: List[str] = ["p", "<", ">", "d", "H", "8", "o"]

# Legend and table order: each method followed by its configured variants.
METHOD_ORDER: List[str] = [
    "uniform", "uniform_bicubic", "uniform_bs1", "uniform_bs2", "uniform_bs4", "uniform_bs8",
    "edge_based",
    "deformation", "deformation_sigma_frac0p08", "deformation_sigma_frac0p17", "deformation_module_kernel5",
    "deformation_module_kernel7", "deformation_input_scale0p5", "deformation_input_scale1",
    "deformation_input_scale1p5", "deformation_gamma50", "deformation_gamma200",
    "deformation_single",
    "edge_sim", "edge_sim_r1", "edge_sim_r2", "edge_sim_r4", "edge_sim_r8",
    "interpolation",
    "soft_labels", "soft_labels_mc_off", "soft_labels_label_bicubic", "soft_labels_colour_bicubic",
    "soft_labels_bicubic", "soft_labels_bs1", "soft_labels_bs2", "soft_labels_bs4", "soft_labels_bs8",
    "hierarchical_clustering",
    # Suzuki 2021 (experiments suzuki_hc, suzuki_table1): HCFCN-32 by level (0 = FCN-32) and by
    # sampling branch (the config entry hcfcn32 sweeps them), and the plain / HC models at full size.
    "hcfcn32", "hcfcn32_levels0", "hcfcn32_levels1", "hcfcn32_levels2", "hcfcn32_levels3", "hcfcn32_levels4",
    "hcfcn32_branchidentity", "hcfcn32_branchresidual", "hcfcn32_branchblock",
    "atrous_fcn", "pspnet", "hcpspnet", "deeplabv3", "hcdeeplabv3",
    "superpixels",
    # the superpixels track's members (paper_figures.superpixels): classical, then deep
    "slic", "felzenszwalb", "seeds", "lsc", "snic", "ers", "ssn", "hcssn", "scn", "pcnet",
]


def _listed_styles() -> Dict[str, Tuple[str, str]]:
    styles = dict(PRIMARY)
    variants = [m for m in METHOD_ORDER if m not in PRIMARY]
    for k, label in enumerate(variants):
        styles[label] = (VARIANT_COLORS[k % len(VARIANT_COLORS)], VARIANT_MARKERS[k % len(VARIANT_MARKERS)])
    return styles


_STYLES = _listed_styles()
# Pairs no listed label uses, for labels nobody listed (hashed into this list).
_SPARE_PAIRS = [(c, m) for c in VARIANT_COLORS for m in VARIANT_MARKERS if (c, m) not in set(_STYLES.values())]


def _stable_index(name: str, n: int) -> int:
    # hashlib, not hash(): Python salts str hashes per process, colours must not change.
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % n


def method_style(method: str) -> Dict[str, str]:
    """``dict(color, marker, linestyle)`` for the label ``method``; identical in every figure."""
    method = str(method)
    color, marker = _STYLES.get(method) or _SPARE_PAIRS[_stable_index(method, len(_SPARE_PAIRS))]
    # The baseline is dashed so it reads as a reference line, also in greyscale.
    return {"color": color, "marker": marker, "linestyle": "--" if method == "uniform" else "-"}


def method_color(method: str) -> str:
    return method_style(method)["color"]


def method_label(method: str) -> str:
    """Legend text: the label with spaces (``edge_based`` -> ``edge based``)."""
    return str(method).replace("_", " ")


def sort_methods(methods: Iterable[str]) -> List[str]:
    """Unique methods in :data:`METHOD_ORDER`, unknown ones after, alphabetically."""
    unique = set(str(m) for m in methods)
    known = [m for m in METHOD_ORDER if m in unique]
    return known + sorted(unique - set(known))


__all__ = ["METHOD_ORDER", "PRIMARY", "VARIANT_COLORS", "VARIANT_MARKERS", "method_color", "method_label",
           "method_style", "sort_methods"]
