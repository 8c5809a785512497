"""The reproduction report: the papers' claims (``results/claims.yaml``) tested on stored rows.

* :mod:`benchmark.report.claims` reads and validates the claims (one-line errors naming the file,
  the claim id and the key).
* :mod:`benchmark.report.counts` finds a run's per-image counts (``counts.npz``,
  ``counts_intrinsic.npz``, the superpixel track's ``pairs.csv``) from its metrics rows.
* :mod:`benchmark.report.bootstrap` is the paired bootstrap over seeds and images.
* :mod:`benchmark.report.verdicts` turns each claim into measured differences, 95% intervals
  and verdicts (reproduced / not reproduced / inconclusive, each with its reason).
* :mod:`benchmark.report.render` writes ``verdicts.csv``, ``REPORT.md`` and ``index.html``.

Pure numpy and pandas: nothing here imports torch or a method (the report is built from stored
metrics and counts alone).
"""
from benchmark.report.claims import load_claims
from benchmark.report.verdicts import VERDICTS, evaluate_claims

__all__ = ["load_claims", "evaluate_claims", "VERDICTS", "build_report"]


def build_report(*args, **kwargs):
    from benchmark.report.render import build_report as build

    return build(*args, **kwargs)
