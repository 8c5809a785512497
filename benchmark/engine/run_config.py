"""A run's identity and hyperparameters: one dataclass, stored as RUN/run.json."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from benchmark.errors import DsbenchError
from benchmark.io import atomic_write_text
from benchmark.results import config_hash

RUN_FILE = "run.json"


@dataclasses.dataclass
class RunConfig:
    dataset: str
    root: str
    method: str
    model: str
    resolution: Tuple[int, int]            # (h, w) of the downsampled network input
    seed: int = 0
    out: str = ""                           # run folder
    encoder: Optional[str] = None           # timm encoder name; None = the model's default
    output_stride: Optional[int] = None
    method_options: Dict[str, Any] = dataclasses.field(default_factory=dict)
    iters: int = 300
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    checkpoint_every: int = 100
    log_every: int = 10
    train_split: str = "train"
    eval_split: str = "val"
    crop: Optional[Tuple[int, int]] = None  # training crop at full resolution; None = whole image
    scale_range: Tuple[float, float] = (0.75, 1.25)
    device: str = "auto"
    weights: Optional[str] = None           # local checkpoint for the segmentation network
    run_id: str = ""
    label: str = ""                         # name in result rows (a method variant of a sweep)

    def __post_init__(self) -> None:
        self.label = self.label or self.method
        self.resolution = tuple(int(v) for v in self.resolution)  # type: ignore[assignment]
        if self.crop is not None:
            self.crop = tuple(int(v) for v in self.crop)  # type: ignore[assignment]
        self.scale_range = tuple(float(v) for v in self.scale_range)  # type: ignore[assignment]
        if not self.run_id:
            self.run_id = Path(self.out).name if self.out else default_run_id(self)

    @property
    def identity(self) -> Dict[str, Any]:
        h, w = self.resolution
        return {"run_id": self.run_id, "dataset": self.dataset, "split": self.eval_split, "method": self.label,
                "model": self.model, "height": h, "width": w, "seed": self.seed}

    def training_fingerprint(self) -> str:
        """Hash of everything that changes the trained weights (not paths or device)."""
        d = dataclasses.asdict(self)
        for k in ("root", "out", "device", "run_id", "log_every", "checkpoint_every", "eval_split"):
            d.pop(k)
        return config_hash(d)

    def save(self, run_dir: Path) -> None:
        atomic_write_text(Path(run_dir) / RUN_FILE, json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, run_dir: Path) -> "RunConfig":
        path = Path(run_dir) / RUN_FILE
        if not path.is_file():
            raise DsbenchError(f"{path}: no run config; is {run_dir} a run folder made by `dsbench train`?")
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise DsbenchError(f"{path}: unreadable run config ({exc}); re-run `dsbench train` into a fresh folder")


def default_run_id(cfg: RunConfig) -> str:
    h, w = cfg.resolution
    return f"{cfg.dataset}-{cfg.label or cfg.method}-{cfg.model}-{h}x{w}-s{cfg.seed}"
