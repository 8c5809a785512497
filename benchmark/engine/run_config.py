"""A run's identity and hyperparameters: one dataclass, stored as RUN/run.json."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from benchmark.defaults import TRAIN_BATCH_SIZE, TRAIN_CHECKPOINT_EVERY, TRAIN_ITERS
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
    iters: int = TRAIN_ITERS
    batch_size: int = TRAIN_BATCH_SIZE
    lr: float = 1e-3
    weight_decay: float = 1e-4
    checkpoint_every: int = TRAIN_CHECKPOINT_EVERY
    log_every: int = 10
    train_split: str = "train"
    eval_split: str = "val"
    crop: Optional[Tuple[int, int]] = None  # training crop at full resolution; None = whole image
    scale_range: Tuple[float, float] = (0.75, 1.25)
    device: str = "auto"
    weights: Optional[str] = None           # local checkpoint for the segmentation network
    # Added for the paper-scale presets; at their defaults they leave settings(), params and the
    # training fingerprint exactly as before they existed (see OPTIONAL_TRAINING_DEFAULTS).
    optimizer: str = "adamw"                # adamw | sgd (with momentum) | adam (the superpixel papers)
    momentum: float = 0.9                   # SGD momentum (unused by AdamW)
    lr_policy: str = "poly"                 # poly (power 0.9) | cosine (to 0) | constant | step (PCNet)
    encoder_weights: Optional[str] = None   # ImageNet weights of the timm encoder: a local file, or "hub"
    class_weights: str = "none"             # none | inverse_sqrt_frequency (of the train split's labels)
    allow_hub_weights: bool = False         # permission for encoder_weights="hub" (a download); no setting
    run_id: str = ""
    label: str = ""                         # name in result rows (a method variant of a sweep)
    dataset_card: Optional[str] = None      # the card (absolute path) that defines ``dataset``, if any
    # Derived from the settings above when the run is described (describe()); stored in run.json.
    track: str = ""                         # the method's track (benchmark.tracks)
    params: str = ""                        # canonical JSON: method, every option, training settings

    def __post_init__(self) -> None:
        self.label = self.label or self.method
        self.check_settings()
        self.resolution = tuple(int(v) for v in self.resolution)  # type: ignore[assignment]
        if self.crop is not None:
            self.crop = tuple(int(v) for v in self.crop)  # type: ignore[assignment]
        self.scale_range = tuple(float(v) for v in self.scale_range)  # type: ignore[assignment]
        if not self.run_id:
            self.run_id = Path(self.out).name if self.out else default_run_id(self)
        if self.dataset_card:
            self.register_dataset_card()

    def register_dataset_card(self) -> None:
        """Register the run's card in ``DATASETS``, so that whatever loads this config (evaluate,
        cost, resume) finds the dataset by name as for a built-in one."""
        from benchmark.data.cards import register_card  # torch-heavy: only runs made from a card

        spec = register_card(self.dataset_card)
        if spec.name != self.dataset:
            raise DsbenchError(f"run setting dataset={self.dataset!r} but card {self.dataset_card} names the "
                               f"dataset {spec.name!r}; give the card's name, or the card of {self.dataset!r}")

    def check_settings(self) -> None:
        """The one rule for training settings, wherever a run is configured (CLI, workflow, run.json):
        positive integer counts, a finite positive learning rate, a non-negative seed, an HxW size."""
        for key in ("iters", "batch_size", "checkpoint_every", "log_every"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise DsbenchError(f"run setting {key}={value!r} must be a positive integer, e.g. {key}=10")
        for key, low in (("lr", 0.0), ("weight_decay", None)):
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                and (value > low if low is not None else value >= 0)
            if not ok:
                bound = "a finite number > 0, e.g. 0.001" if low is not None else "a finite number >= 0, e.g. 0.0001"
                raise DsbenchError(f"run setting {key}={value!r} must be {bound}")
        if self.optimizer not in OPTIMIZERS:
            raise DsbenchError(f"run setting optimizer={self.optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
        if self.class_weights not in CLASS_WEIGHTS:
            raise DsbenchError(f"run setting class_weights={self.class_weights!r}; use one of {', '.join(CLASS_WEIGHTS)}")
        if self.lr_policy not in LR_POLICIES:
            raise DsbenchError(f"run setting lr_policy={self.lr_policy!r}; use one of {', '.join(LR_POLICIES)}")
        if isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float)) \
                or not 0.0 <= self.momentum < 1.0:
            raise DsbenchError(f"run setting momentum={self.momentum!r} must be a number in [0, 1), e.g. 0.9")
        low, high = (float(v) for v in self.scale_range)
        if not 0.0 < low <= high:
            raise DsbenchError(f"run setting scale_range={list(self.scale_range)!r} must be LOW,HIGH with "
                               f"0 < LOW <= HIGH, e.g. 0.5,2.0")
        if self.encoder_weights == HUB_WEIGHTS and not self.allow_hub_weights:
            raise DsbenchError("encoder_weights='hub' downloads timm's ImageNet weights; pass --allow-hub-weights "
                               "to allow it, or give a local file (--encoder-weights PATH)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise DsbenchError(f"run setting seed={self.seed!r} must be an integer >= 0 (as in the workflow schema)")
        try:
            h, w = (int(v) for v in self.resolution)
        except (TypeError, ValueError):
            raise DsbenchError(f"run setting resolution={self.resolution!r} must be HxW, e.g. 64x128") from None
        if h <= 0 or w <= 0:
            raise DsbenchError(f"run setting resolution={self.resolution!r} must be positive, e.g. 64x128")

    @property
    def identity(self) -> Dict[str, Any]:
        h, w = self.resolution
        if not self.params:
            self.describe()
        return {"run_id": self.run_id, "dataset": self.dataset, "split": self.eval_split, "track": self.track,
                "method": self.label, "params": self.params, "model": self.model, "height": h, "width": w,
                "seed": self.seed}

    def describe(self) -> None:
        """Fill ``track`` and ``params`` from the registered method: ``params`` is the canonical
        JSON (sorted keys) of the method's name, every option (defaults included; files by name)
        and the training settings, so figures select rows by value, never by parsing labels."""
        from benchmark.tracks import find_method

        _, cls = find_method(self.method)
        options = {k: path_free(v) for k, v in cls.full_options(self.method_options).items()}
        train = {k: getattr(self, k) for k in TRAIN_SETTINGS}
        train.update({k: path_free(getattr(self, k)) for k in OPTIONAL_TRAINING_DEFAULTS
                      if getattr(self, k) != OPTIONAL_TRAINING_DEFAULTS[k]})
        self.track = cls.track
        self.params = canonical_json({"method": self.method, "options": options, "train": train})

    def settings(self) -> Dict[str, Any]:
        """Every setting that defines the run's numbers, without paths or derived fields (files an
        option names count by file name): the same settings in two folders hash the same."""
        d = dataclasses.asdict(self)
        for k in ("root", "out", "device", "run_id", "log_every", "checkpoint_every", "track", "params",
                  "allow_hub_weights"):
            d.pop(k)
        for k, default in OPTIONAL_TRAINING_DEFAULTS.items():
            if d[k] == default:  # absent at the default: runs made before the setting keep their hash
                d.pop(k)
        if "encoder_weights" in d:
            d["encoder_weights"] = path_free(d["encoder_weights"])
        d["method_options"] = {k: path_free(v) for k, v in d["method_options"].items()}
        d["weights"] = path_free(d["weights"])
        # By file name, like other files; absent when unset so runs without a card hash as before.
        card = d.pop("dataset_card")
        if card:
            d["dataset_card"] = path_free(card)
        return d

    def training_settings(self) -> Dict[str, Any]:
        """The settings that change the trained weights (not paths, device or eval split)."""
        d = self.settings()
        d.pop("eval_split")
        return d

    def training_fingerprint(self) -> str:
        """Hash of everything that changes the trained weights (not paths, device or eval split)."""
        return config_hash(self.training_settings())

    def training_differences(self, other: "RunConfig") -> List[str]:
        """``key old -> new`` for every training setting where ``other`` differs from this run
        (values compared as JSON: a tuple from the CLI equals the list read from run.json)."""
        mine, theirs = self.training_settings(), other.training_settings()
        return [f"{key} {show_setting(mine.get(key))} -> {show_setting(theirs.get(key))}"
                for key in sorted(set(mine) | set(theirs))
                if canonical_json(mine.get(key)) != canonical_json(theirs.get(key))]

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
        except DsbenchError as exc:
            raise DsbenchError(f"{path}: {exc}; fix it or re-run `dsbench train` into a fresh folder") from None
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise DsbenchError(f"{path}: unreadable run config ({exc}); re-run `dsbench train` into a fresh folder") from None


# The training settings a run's params record (the method's options are recorded in full beside them).
TRAIN_SETTINGS = ("iters", "batch_size", "lr", "weight_decay", "crop", "scale_range")
# Settings recorded (in params, settings() and the fingerprint) only where they differ from these
# defaults, which are the behaviour from before they existed.
OPTIONAL_TRAINING_DEFAULTS = {"optimizer": "adamw", "momentum": 0.9, "lr_policy": "poly", "encoder_weights": None,
                              "class_weights": "none"}
OPTIMIZERS = ("adamw", "sgd", "adam")
LR_POLICIES = ("poly", "cosine", "constant", "step")
CLASS_WEIGHTS = ("none", "inverse_sqrt_frequency")  # benchmark.engine.train.loss_class_weights
HUB_WEIGHTS = "hub"


def path_free(value: Any) -> Any:
    """A file path kept by its file name (two run folders name the same file differently)."""
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=list)


def show_setting(value: Any) -> str:
    """A setting in a message: strings bare, anything else as JSON (0.001, [16,32], null)."""
    return value if isinstance(value, str) else canonical_json(value)


def default_run_id(cfg: RunConfig) -> str:
    h, w = cfg.resolution
    return f"{cfg.dataset}-{cfg.label or cfg.method}-{cfg.model}-{h}x{w}-s{cfg.seed}"
