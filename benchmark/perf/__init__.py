"""Side-by-side performance benchmarks (`dsbench perf NAME`).

Each benchmark is a function registered in ``PERF`` that measures a baseline and our
implementation in one run, on the same inputs, and returns a :class:`PerfResult`. Ratios, not
absolute times, are the claim: these machines are noisy.
"""
from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any, Callable, Dict, List, Optional

from benchmark.registry import Registry

PERF = Registry("perf benchmark")


@dataclasses.dataclass
class PerfResult:
    name: str
    baseline: str          # what the baseline is, in words
    baseline_s: float
    ours_s: float
    floor_s: Optional[float] = None   # a lower bound for the same output (e.g. memory-bound op)
    details: Dict[str, Any] = dataclasses.field(default_factory=dict)
    rows: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # extra table rows (other sizes)

    @property
    def speedup(self) -> float:
        return self.baseline_s / self.ours_s

    def table(self) -> str:
        """Human-readable side-by-side table with the ratios."""
        lines = [f"{self.name}: ours vs {self.baseline}", f"{'':<22}{'seconds':>12}"]
        lines.append(f"{'baseline':<22}{self.baseline_s:>12.4f}")
        lines.append(f"{'ours':<22}{self.ours_s:>12.4f}")
        if self.floor_s is not None:
            lines.append(f"{'floor':<22}{self.floor_s:>12.4f}")
        lines.append(f"speedup (baseline / ours): {self.speedup:.1f}x")
        if self.floor_s is not None:
            lines.append(f"ours / floor: {self.ours_s / self.floor_s:.2f}x")
        for key, value in self.details.items():
            lines.append(f"{key}: {value}")
        for row in self.rows:
            lines.append("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        return "\n".join(lines)

    def as_json(self) -> Dict[str, Any]:
        out = {"name": self.name, "baseline": self.baseline, "baseline_s": self.baseline_s,
               "ours_s": self.ours_s, "speedup": self.speedup}
        if self.floor_s is not None:
            out["floor_s"] = self.floor_s
            out["ours_over_floor"] = self.ours_s / self.floor_s
        out.update(self.details)
        if self.rows:
            out["rows"] = self.rows
        return out


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Median wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
