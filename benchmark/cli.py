"""``dsbench`` (= ``python -m benchmark``): each verb a thin shell over library functions.

Imports are local to each verb so that ``dsbench figures``/``regress``/``aggregate`` never load
torch or a method.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from benchmark import defaults
from benchmark.errors import DsbenchError, cannot_write

INTERRUPTED = ("interrupted; no half-written file is left (a training run keeps its last checkpoint): "
               "rerun the same command to resume")


def parse_size(text: str) -> Tuple[int, int]:
    """``64x128`` -> (64, 128); anything else is a one-line error."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 64x128")
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: height and width must be positive, e.g. 64x128")
    return h, w


def parse_range(text: str) -> Tuple[float, float]:
    """``0.5,2.0`` -> (0.5, 2.0)."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LOW,HIGH, e.g. 0.5,2.0")
    return low, high


def parse_split_sizes(text: str) -> Dict[str, int]:
    """``train=64,val=16`` -> {"train": 64, "val": 16}."""
    sizes: Dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        if not name or not count.isdigit():
            raise argparse.ArgumentTypeError(f"{text!r} is not NAME=COUNT[,NAME=COUNT], e.g. train=64,val=16")
        sizes[name.strip()] = int(count)
    return sizes


def format_split_sizes(sizes: Mapping[str, int]) -> str:
    """{"train": 48, "val": 12} -> ``train=48,val=12`` (what :func:`parse_split_sizes` reads)."""
    return ",".join(f"{name}={count}" for name, count in sizes.items())


def format_size(size: Sequence[int]) -> str:
    """(256, 512) -> ``256x512`` (what :func:`parse_size` reads)."""
    return "x".join(str(int(v)) for v in size)


def parse_options(items: Sequence[str]) -> Dict[str, object]:
    """``key=value`` pairs; values parsed as JSON where they can be (numbers, lists, booleans)."""
    options: Dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise DsbenchError(f"--option {item!r} must be KEY=VALUE, e.g. --option lam=1.0")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def add_dataset_arguments(parser: argparse.ArgumentParser, *, default_dataset: Optional[str] = None,
                          with_root: bool = True) -> None:
    """``--dataset NAME [--root DIR]`` or ``--dataset-card FILE``; :func:`resolve_dataset_arguments`
    checks which was given once the arguments are parsed."""
    parser.add_argument("--dataset", default=None,
                        help=f"registered dataset (default: {default_dataset})" if default_dataset else
                        "registered dataset (with --root)")
    if with_root:
        parser.add_argument("--root", default=None, help="dataset folder")
    parser.add_argument("--dataset-card", default=None, metavar="FILE",
                        help="dataset card (YAML) naming the dataset and its root (relative to the card); "
                             "instead of --dataset" + (" and --root" if with_root else ""))
    parser.set_defaults(default_dataset=default_dataset, with_root=with_root)


def resolve_dataset_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Fill ``args.dataset`` (and ``args.root``) from ``--dataset-card``, registering the card;
    ``args.dataset_card`` becomes its absolute path (None without a card)."""
    given = [flag for flag, value in (("--dataset", args.dataset), ("--root", getattr(args, "root", None)))
             if value is not None]
    if args.dataset_card is not None:
        if given:
            raise DsbenchError(f"--dataset-card {args.dataset_card} names the dataset and its root; drop "
                               f"{' and '.join(given)}, or drop --dataset-card")
        from benchmark.data.cards import register_card  # torch-heavy: only with a card
        from pathlib import Path

        spec = register_card(args.dataset_card, require_root=args.with_root)
        args.dataset_card = str(Path(args.dataset_card).resolve())
        args.dataset = spec.name
        if args.with_root:
            args.root = str(Path(spec.default_root).resolve())
        return args
    if args.dataset is None:
        args.dataset = args.default_dataset
    missing = [flag for flag, value in (("--dataset", args.dataset), ("--root", getattr(args, "root", "")))
               if value is None]
    if missing:
        usage = "--dataset NAME --root DIR" if args.with_root else "--dataset NAME"
        raise DsbenchError(f"{' and '.join(missing)} missing; give {usage}, or --dataset-card FILE")
    return args


# -- verbs --------------------------------------------------------------------------------

def cmd_make_data(args: argparse.Namespace) -> int:
    from benchmark.data import DATASETS

    spec = DATASETS.get(args.dataset)
    stats = spec.make(args.root, split_sizes=args.split_sizes, size=args.size, seed=args.seed)
    print(f"wrote {args.dataset} to {args.root} in {stats.get('seconds', float('nan')):.1f} s")
    return 0


def _run_config_from_args(args: argparse.Namespace):
    from benchmark.engine.run_config import RunConfig

    resolve_dataset_arguments(args)
    return RunConfig(dataset=args.dataset, root=args.root, dataset_card=args.dataset_card,
                     method=args.method, model=args.model,
                     encoder=args.encoder or defaults.default_encoder(args.model),
                     output_stride=args.output_stride, resolution=args.resolution, seed=args.seed,
                     out=args.out, iters=args.iters, batch_size=args.batch_size, lr=args.lr,
                     checkpoint_every=args.checkpoint_every, crop=args.crop, device=args.device,
                     weight_decay=args.weight_decay, optimizer=args.optimizer, momentum=args.momentum,
                     lr_policy=args.lr_policy, scale_range=args.scale_range, encoder_weights=args.encoder_weights,
                     class_weights=args.class_weights,
                     allow_hub_weights=args.allow_hub_weights,
                     weights=args.weights, method_options=parse_options(args.option),
                     eval_split=args.eval_split, train_split=args.train_split,
                     label=args.label or "")


def cmd_train(args: argparse.Namespace) -> int:
    from benchmark.engine.train import train

    result = train(_run_config_from_args(args), progress=not args.quiet)
    print(json.dumps(result))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from benchmark.engine.evaluate import evaluate_run

    out = evaluate_run(args.run, device=args.device, save_predictions=args.save_predictions,
                       center_crop=args.center_crop, target_classes=args.target_classes, progress=not args.quiet,
                       scales=args.scales, flip=args.flip)
    print(f"wrote {out}")
    if args.cost:
        from benchmark.cost.report import cost_of_run

        print(f"wrote {cost_of_run(args.run, device=args.device, scales=args.scales, flip=args.flip)}")
    return 0


def add_test_protocol_arguments(p: argparse.ArgumentParser, purpose: str = "") -> None:
    """--scales / --flip, the multi-scale test protocol (evaluate, and the cost of a run)."""
    p.add_argument("--scales", nargs="+", type=float, default=[1.0], metavar="FACTOR",
                   help="multi-scale testing: factors of the run's resolution whose predictions (logits at the "
                        "label size) are averaged, e.g. 0.5 0.75 1.0 1.25 1.5 1.75; default 1.0 (single scale)"
                        + (f"; {purpose}" if purpose else ""))
    p.add_argument("--flip", action="store_true", help="also average the left-right mirrored input's predictions")


def cmd_flops(args: argparse.Namespace) -> int:
    from benchmark.cost.report import cost_of_model, cost_of_run

    if args.run:
        out = cost_of_run(args.run, device=args.device, latency=not args.no_latency, scales=args.scales,
                          flip=args.flip)
        print(f"wrote {out}")
        return 0
    if not (args.model and args.method and args.resolution):
        raise DsbenchError("flops needs --run RUN, or --model NET --method METHOD --resolution HxW (and optionally --image-size)")
    resolve_dataset_arguments(args)
    cost = cost_of_model(args.model, method=args.method, resolution=args.resolution, image_size=args.image_size,
                         encoder=args.encoder or defaults.default_encoder(args.model), dataset=args.dataset,
                         method_options=parse_options(args.option))
    if args.json:
        print(json.dumps(cost, indent=2, sort_keys=True))
    else:
        print(f"{'stage':<10} {'GMACs':>10} {'GFLOPs':>10} {'params':>12}")
        for stage, c in cost["stages"].items():
            print(f"{stage:<10} {c['macs'] / 1e9:>10.4f} {c['flops'] / 1e9:>10.4f} {c['params']:>12,}")
        print(f"{'total':<10} {cost['macs'] / 1e9:>10.4f} {cost['flops'] / 1e9:>10.4f} {cost['params']:>12,}")
    return 0


def cmd_intrinsic(args: argparse.Namespace) -> int:
    from benchmark.registry import METHODS
    from benchmark.tracks import find_method

    track, cls = find_method(args.method)
    # edge_based runs too, given its prepared aux net (--option aux_checkpoint=FILE)
    free = ", ".join(k for k in METHODS if not METHODS.get(k).learned_sampler and METHODS.get(k).preparation is None)
    if track.name != "input_downsampling":
        raise DsbenchError(f"intrinsic: {args.method!r} is a {track.name} method, which samples no grid over the "
                           f"image; use an input-downsampling sampler: {free}")
    if cls.learned_sampler:
        raise DsbenchError(f"intrinsic: {args.method!r} learns its sampler with the network, so it has no grid "
                           f"before training; read miou_intrinsic from a trained run (`dsbench evaluate --run RUN`) "
                           f"or use a sampler that needs no training: {free}")
    method = cls.from_options(parse_options(args.option))
    reason = method.skip_reason(dataset=args.dataset or "", model="", size_lr=args.resolution)
    if reason:
        raise DsbenchError(f"intrinsic: {reason}; choose another --resolution")
    resolve_dataset_arguments(args)
    from benchmark.data import DATASETS, build_dataset
    from benchmark.metrics.intrinsic import JIN_UNSAMPLE_MODE, dataset_intrinsic_miou

    spec = DATASETS.get(args.dataset)
    data = build_dataset(args.dataset, args.root, args.split)
    scores = dataset_intrinsic_miou(method, (data[i] for i in range(len(data))), args.resolution, spec.num_classes,
                                    spec.evaluated_train_ids)
    if args.json:
        h, w = args.resolution
        report = {"dataset": args.dataset, "split": args.split, "method": args.method,
                  "options": cls.full_options(parse_options(args.option)), "height": h, "width": w,
                  "images": len(data), "unsample_mode": method.unsample_mode,
                  # NaN (no evaluated class in the split) is not JSON: null
                  **{k: (v if v == v else None) for k, v in scores.items()}}
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(f"{'miou_intrinsic':<30} {scores['miou_intrinsic']:.6f}  (Jin's Pi: {JIN_UNSAMPLE_MODE})")
        print(f"{'miou_intrinsic_own_unsampler':<30} {scores['miou_intrinsic_own_unsampler']:.6f}  "
              f"({method.unsample_mode}, the method's unsampler)")
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    from benchmark.aggregate import aggregate, aggregate_files

    df = aggregate_files(args.files, args.out) if args.files else aggregate(args.runs, args.out)
    print(f"wrote {len(df)} rows to {args.out}")
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    from benchmark.regress import format_report, regress

    report, passed = regress(args.metrics, args.reference, args.tolerances, args.calibration)
    print(format_report(report))
    if report.attrs.get("device_note"):
        print(report.attrs["device_note"])
    print(f"trained rows: tolerances calibrated by {report.attrs['calibration']}" if report.attrs.get("calibration")
          else "trained rows: no calibration file, so their floors in the tolerance file apply")
    print("regression check: PASSED" if passed else "regression check: FAILED")
    return 0 if passed else 1


def cmd_refresh_reference(args: argparse.Namespace) -> int:
    from benchmark.regress import refresh_reference

    print(refresh_reference(args.metrics, args.reference))
    return 0


def parse_named_paths(items: Sequence[str], flag: str) -> Dict[str, str]:
    """``NAME=PATH`` pairs of a repeated flag, names unique."""
    named: Dict[str, str] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise DsbenchError(f"{flag} {item!r} must be NAME=PATH, e.g. {flag} aten_default=cal/aten_default.csv")
        if name in named:
            raise DsbenchError(f"{flag}: the name {name!r} is given twice; give each run its own name")
        named[name] = path
    return named


def cmd_calibrate(args: argparse.Namespace) -> int:
    from benchmark.regress import calibrate, calibration_path

    out = args.out or calibration_path(args.reference)
    command = "dsbench calibrate " + " ".join(sys.argv[2:]) if args.command is None else args.command
    _, summary = calibrate(args.reference, parse_named_paths(args.kernel, "--kernel"),
                           parse_named_paths(args.seed, "--seed"), out, args.tolerances, command=command)
    print(summary)
    print(f"wrote {out}")
    return 0


def cmd_export_weights(args: argparse.Namespace) -> int:
    from benchmark.engine.reference_weights import describe_bundle, export_weights

    export_weights(args.runs, args.out)
    print(f"wrote {args.out}: {describe_bundle(args.out)}")
    return 0


def cmd_evaluate_weights(args: argparse.Namespace) -> int:
    from benchmark.engine.reference_weights import evaluate_weights

    out = evaluate_weights(args.weights, args.root, args.out, device=args.device, target_classes=args.target_classes,
                           progress=not args.quiet)
    print(f"wrote {out}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    from paper_figures.build import build_all

    written = build_all(args.metrics, args.out, only=args.only)
    for path in written:
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.report import build_report

    written = build_report(args.metrics, args.out, claims=args.claims, runs=args.runs, figures=args.figures,
                           reported=args.reported, resamples=args.resamples, seed=args.seed)
    for path in written:
        print(f"wrote {path}")
    return 0


# The names `dsbench perf --help` lists. Written out so that building the parser does not import
# every benchmark (about 8 s, torch and every method family); tests/perf/test_perf_cli.py holds
# the list to the registry (benchmark.perf.PERF after `import benchmark.perf.all`).
PERF_NAMES = ("hc-latency", "sampling-tensor", "soft-labels", "superpixel-metrics", "superpixel-resolution",
              "unsample")


def cmd_perf(args: argparse.Namespace) -> int:
    import benchmark.perf.all  # noqa: F401  registers every benchmark
    from benchmark.perf import PERF

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    key = args.name.replace("-", "_")
    if key not in PERF:
        known = ", ".join(k.replace("_", "-") for k in PERF.keys())
        raise DsbenchError(f"unknown perf benchmark {args.name!r}; use one of {known}")
    result = PERF.get(key)(quick=args.quick)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(result.table())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from benchmark.tracks import find_method

    _, method = find_method(args.method)
    step = method.preparation
    if step is None:
        raise DsbenchError(f"method {args.method!r} has no preparation step; train it directly with `dsbench train`")
    resolve_dataset_arguments(args)
    settings = step.settings(parse_options(args.setting), where="--setting")
    result = step.run(args.dataset, args.root, args.out, **settings)
    print(json.dumps(result))
    return 0


def _print_superpixel_means(summary, by: Sequence[str] = ()) -> None:
    header = [*by, "BR", "BP", "ASA", "UE", "CO", "EV", "measured", "pairs"]
    print("  ".join(f"{h:>9}" for h in header))
    for record in summary.to_dict("records"):
        cells = [f"{record[k]:>9}" for k in by]
        cells += [f"{record[m]:>9.4f}" for m in ("boundary_recall", "boundary_precision", "asa",
                                                  "undersegmentation_error", "compactness", "explained_variation")]
        cells += [f"{record['measured_superpixels']:>9.1f}", f"{int(record['evaluated_pairs']):>9}"]
        print("  ".join(cells))


def cmd_evaluate_superpixels(args: argparse.Namespace) -> int:
    from benchmark.engine.superpixels import evaluate_segmentations, summarise_pairs
    from benchmark.io import atomic_write_text

    pairs = evaluate_segmentations(args.segmentations, args.dataset, args.root, args.split)
    if args.out:
        atomic_write_text(args.out, pairs.to_csv(index=False, float_format="%.15g"))
    summary = summarise_pairs(pairs)
    if args.json:
        print(json.dumps(summary.to_dict("records")[0], indent=2))
    else:
        _print_superpixel_means(summary)
    if args.out:
        print(f"wrote {len(pairs)} pairs to {args.out}")
    return 0


def cmd_train_superpixels(args: argparse.Namespace) -> int:
    from benchmark.engine.superpixel_train import superpixel_run_config
    from benchmark.engine.train import train

    cfg = superpixel_run_config(args.method, args.dataset, args.root, args.split, args.out, iters=args.iters,
                                batch_size=args.batch_size, crop=args.crop, lr=args.lr, seed=args.seed,
                                checkpoint_every=args.checkpoint_every, device=args.device,
                                options=parse_options(args.option))
    print(json.dumps(train(cfg, progress=not args.quiet)))
    return 0


def cmd_superpixel_resolution(args: argparse.Namespace) -> int:
    from benchmark.results import write_rows
    from methods.superpixels.perf import resolution_rows

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = write_rows(args.out, resolution_rows(args.sizes, repeats=args.repeats))
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


def cmd_segment_superpixels(args: argparse.Namespace) -> int:
    from benchmark.engine.superpixels import METRICS_FILE, segment_split

    rows = segment_split(args.method, parse_options(args.option), args.dataset, args.root, args.split, args.n,
                         args.out, weights=args.weights, limit=args.limit, run=args.run, device=args.device)
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        print(f"skipped {args.method}: {rows['reason'].iloc[0]}")
    else:
        means = ok.pivot_table(index="n_superpixels", columns="metric", values="value").reset_index()
        _print_superpixel_means(means.astype({"n_superpixels": int}), by=["n_superpixels"])
    print(f"wrote {len(rows)} rows to {args.out}/{METRICS_FILE}")
    return 0


# Verbs that existed before `dsbench study NAME`: each names a study.
STUDY_ALIASES = {"priors": "priors", "sampling-points": "sampling_points"}


def cmd_study(args: argparse.Namespace) -> int:
    import methods  # noqa: F401  registers every method family's studies
    from benchmark.registry import STUDIES

    name = STUDY_ALIASES.get(args.verb) or args.name
    study = STUDIES.get(name)
    parser = argparse.ArgumentParser(prog=f"dsbench study {name}", description=study.help,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_dataset_arguments(parser)
    parser.add_argument("--out", required=True, help="CSV of tidy rows")
    study.add_arguments(parser)
    study_args = resolve_dataset_arguments(parser.parse_args(args.args))
    study.run(study_args)
    print(f"wrote {study_args.out}")
    return 0


def add_superpixel_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """The ground truth a superpixel verb scores against: BSDS500 or a Cityscapes-layout dataset."""
    p.add_argument("--dataset", required=True, help="bsds500, or a dataset in the Cityscapes layout (synthcity)")
    p.add_argument("--root", required=True, help="dataset folder")
    p.add_argument("--split", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    # Defaults (benchmark.defaults) are the DAG's (workflows/config.yaml): a step run by hand
    # writes the same dataset and trains the same run. String defaults go through `type`, so
    # --help shows them as they are typed.
    p = verb("make-data", cmd_make_data, "generate an embedded dataset (synthcity, synthaerial) in the Cityscapes layout")
    p.add_argument("--dataset", default="synthcity")
    p.add_argument("--root", required=True)
    p.add_argument("--split-sizes", type=parse_split_sizes, default=format_split_sizes(defaults.SYNTHCITY_SPLIT_SIZES),
                   help="images per split, NAME=COUNT[,NAME=COUNT]")
    p.add_argument("--size", type=parse_size, default=format_size(defaults.SYNTHCITY_SIZE), help="image size HxW")
    p.add_argument("--seed", type=int, default=defaults.SYNTHCITY_SEED, help="generator seed")

    p = verb("train", cmd_train, "train a method + segmentation network (resumes an interrupted run)")
    add_dataset_arguments(p)
    p.add_argument("--method", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--encoder", default=None, help=f"timm encoder name (None: the DAG's, "
                   f"{defaults.describe_encoders()}; other models their own)")
    p.add_argument("--output-stride", type=int, default=None)
    p.add_argument("--resolution", type=parse_size, required=True, help="downsampled size HxW, e.g. 64x128")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--iters", type=int, default=defaults.TRAIN_ITERS, help="training steps")
    p.add_argument("--batch-size", type=int, default=defaults.TRAIN_BATCH_SIZE, help="images per step")
    p.add_argument("--lr", type=float, default=defaults.TRAIN_LR, help="learning rate")
    p.add_argument("--checkpoint-every", type=int, default=defaults.TRAIN_CHECKPOINT_EVERY,
                   help="steps between checkpoints (an interrupted run resumes from the last)")
    p.add_argument("--crop", type=parse_size, default=None, help="training crop HxW at full resolution")
    p.add_argument("--scale-range", type=parse_range, default=(0.75, 1.25), help="random rescale LOW,HIGH")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--lr-policy", choices=("poly", "cosine"), default="poly")
    p.add_argument("--class-weights", choices=("none", "inverse_sqrt_frequency"), default="none",
                   help="per-class loss weights from the train split's label frequencies (the default "
                        "DAG's CPU-budget choice: inverse_sqrt_frequency)")
    p.add_argument("--device", default="auto")
    p.add_argument("--weights", default=None, help="local checkpoint for the network (no hub downloads)")
    p.add_argument("--encoder-weights", default=None,
                   help="ImageNet weights of the encoder: a local timm checkpoint, or 'hub' (needs --allow-hub-weights)")
    p.add_argument("--allow-hub-weights", action="store_true", help="allow --encoder-weights hub to download")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="method option")
    p.add_argument("--label", default=None, help="name of this variant in result rows (default: the method)")
    p.add_argument("--train-split", default="train")
    p.add_argument("--eval-split", default="val")
    p.add_argument("--quiet", action="store_true")

    p = verb("evaluate", cmd_evaluate, "evaluate a trained run at the original resolution; writes RUN/metrics.csv")
    p.add_argument("--run", required=True)
    p.add_argument("--save-predictions", default=None, help="folder for *_labelIds.png predictions")
    p.add_argument("--center-crop", action="store_true", help="evaluate on the central square crop")
    p.add_argument("--target-classes", nargs="+", default=None, help="class names for miou_target")
    add_test_protocol_arguments(p)
    p.add_argument("--cost", action="store_true",
                   help="also write RUN/cost.csv, as `dsbench flops --run RUN` does (one process: the DAG's evaluate rule)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")

    p = verb("flops", cmd_flops, "count the cost of a run (writes RUN/cost.csv, replacing it) or of an "
             "untrained pipeline (prints it)")
    p.add_argument("--run", default=None, help="run folder: its RUN/cost.csv is replaced by this count")
    add_test_protocol_arguments(p, "with --run: also count (and time) every pass of this protocol, under its split")
    p.add_argument("--model", default=None)
    p.add_argument("--method", default=None, help="registered method (with --model)")
    p.add_argument("--encoder", default=None, help=f"timm encoder name (None: the DAG's, "
                   f"{defaults.describe_encoders()}; other models their own)")
    add_dataset_arguments(p, default_dataset="synthcity", with_root=False)
    p.add_argument("--resolution", type=parse_size, default=None)
    p.add_argument("--image-size", type=parse_size, default=None, help="full-resolution input HxW (default: dataset's)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-latency", action="store_true", help="skip latency and memory measurement")

    p = verb("intrinsic", cmd_intrinsic,
             "Jin's intrinsic error mIoU(Y', Y) of a sampler on a dataset split: labels sampled on the method's "
             "grid and brought back, no network (also with the method's own unsampler)")
    add_dataset_arguments(p)
    p.add_argument("--split", default="val")
    p.add_argument("--method", required=True, help="an input-downsampling method whose sampler needs no training")
    p.add_argument("--resolution", type=parse_size, required=True, help="downsampled size HxW, e.g. 64x128")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="method option")
    p.add_argument("--json", action="store_true")

    p = verb("aggregate", cmd_aggregate, "collect every run's rows into results/metrics.csv")
    p.add_argument("--runs", default="results/runs", help="collect every run folder under DIR")
    p.add_argument("--out", default="results/metrics.csv")
    p.add_argument("files", nargs="*", help="or exactly these metrics/cost/train/priors CSVs")

    # No defaults for the pair: results/metrics.csv is the full run, results/reference/ci.csv the ci
    # DAG's reference; comparing (or overwriting) one with the other is never what is meant.
    p = verb("regress", cmd_regress, "compare metrics with a reference; exit 1 on a regression")
    p.add_argument("--metrics", required=True, help="e.g. results/ci/metrics.csv")
    p.add_argument("--reference", required=True, help="e.g. results/reference/ci.csv")
    p.add_argument("--tolerances", default="workflows/tolerances.yaml")
    p.add_argument("--calibration", default=None,
                   help="measured variation of the trained rows (default: REFERENCE's .calibration.yaml beside it)")

    p = verb("calibrate", cmd_calibrate,
             "measure how much trained rows vary across CPU kernel settings and seeds; write the calibration")
    p.add_argument("--reference", default="results/reference/ci.csv")
    p.add_argument("--kernel", action="append", default=[], metavar="NAME=CSV",
                   help="metrics of the reference's DAG and seed under another CPU kernel setting (repeat)")
    p.add_argument("--seed", action="append", default=[], metavar="NAME=CSV",
                   help="metrics of the same DAG with another seed (repeat; reported, not used for tolerances)")
    p.add_argument("--tolerances", default="workflows/tolerances.yaml")
    p.add_argument("--out", default=None, help="default: REFERENCE's .calibration.yaml beside it")
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)

    p = verb("export-weights", cmd_export_weights,
             "bundle finished runs' weights (float16) for the regression gate's evaluation-only rows")
    p.add_argument("runs", nargs="+", help="run folders")
    p.add_argument("--out", required=True, help="bundle folder, e.g. results/reference/ci_weights (replaced)")

    p = verb("evaluate-weights", cmd_evaluate_weights,
             "evaluate bundled weights (dsbench export-weights) on a dataset; writes OUT/metrics.csv")
    p.add_argument("--weights", required=True, help="bundle folder")
    p.add_argument("--root", required=True, help="dataset folder")
    p.add_argument("--out", required=True, help="output folder (runs/ and metrics.csv)")
    p.add_argument("--target-classes", nargs="+", default=None, help="class names for miou_target")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quiet", action="store_true")

    p = verb("refresh-reference", cmd_refresh_reference, "copy metrics to the reference; print a Markdown diff")
    p.add_argument("--metrics", required=True, help="e.g. results/ci/metrics.csv")
    p.add_argument("--reference", required=True, help="e.g. results/reference/ci.csv")

    p = verb("figures", cmd_figures, "build every figure and table from stored metrics only")
    p.add_argument("--metrics", default="results/metrics.csv")
    p.add_argument("--out", default="results/figures")
    p.add_argument("--only", nargs="+", default=None, help="figure ids")

    p = verb("report", cmd_report, "test the papers' claims (results/claims.yaml) on stored metrics and per-image "
             "counts: verdicts.csv, REPORT.md, index.html (no torch)")
    p.add_argument("--metrics", default="results/metrics.csv")
    p.add_argument("--runs", default=None, help="run folders with the per-image counts (default: runs/ beside --metrics)")
    p.add_argument("--claims", default="results/claims.yaml")
    p.add_argument("--out", default="results/report")
    p.add_argument("--figures", default=None, help="figures to link (default: figures/ beside --metrics)")
    p.add_argument("--reported", default=None, help="the papers' numbers (default: reported/ beside --claims)")
    p.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap generator seed (same seed, same numbers)")

    p = verb("perf", cmd_perf, "side-by-side performance benchmark (prints ratios)")
    p.add_argument("name", help=f"one of {', '.join(PERF_NAMES)}")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="smaller inputs (smoke test)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's own choice)")

    p = verb("prepare", cmd_prepare,
             "run a method's preparation step, once per dataset (e.g. Marin's auxiliary net)")
    p.add_argument("method", help="registered method with a preparation step")
    add_dataset_arguments(p)
    p.add_argument("--out", required=True, help="the artifact (checkpoint) to write")
    p.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the step (JSON values), e.g. --setting iters=300")

    p = verb("evaluate-superpixels", cmd_evaluate_superpixels,
             "score superpixel label maps made by any tool (<image_id>.png or .csv per image) against a "
             "dataset's ground truth")
    p.add_argument("--segmentations", required=True, help="folder with one label map per image of the split")
    add_superpixel_dataset_arguments(p)
    p.add_argument("--out", default=None, help="CSV of the per-pair rows (image, annotator)")
    p.add_argument("--json", action="store_true", help="print the means as JSON")

    p = verb("segment-superpixels", cmd_segment_superpixels,
             "run a superpixel method over a split for each requested count; writes OUT/<n>/<image_id>.png, "
             "OUT/pairs.csv and OUT/metrics.csv")
    p.add_argument("--method", required=True, help="registered superpixel method")
    add_superpixel_dataset_arguments(p)
    p.add_argument("--n", type=int, nargs="+", required=True, help="requested superpixel counts, e.g. 100 200 400")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="method option")
    p.add_argument("--weights", default=None, help="checkpoint of a trainable method (a state dict, or RUN/model.pt)")
    p.add_argument("--run", default=None, help="finished `dsbench train-superpixels` folder of a trainable method")
    p.add_argument("--limit", type=int, default=None, help="only the first K images of the split")
    p.add_argument("--device", default="cpu",
                   help="auto, cpu or cuda[:N]: where a trained network runs (classical methods: always the CPU)")

    p = verb("superpixel-resolution", cmd_superpixel_resolution,
             "PCNet vs SCN inference time and peak memory at input resolutions (PCNet Fig 1) as tidy rows")
    p.add_argument("--sizes", nargs="+", default=["0.5K", "1K", "2K"], help="of 0.25K 0.5K 1K 2K 4K (long side)")
    p.add_argument("--repeats", type=int, default=1, help="timed calls per size after a warm-up (median)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's own choice)")
    p.add_argument("--out", required=True, help="CSV of tidy rows")

    p = verb("train-superpixels", cmd_train_superpixels,
             "train a deep superpixel network (ssn, scn, pcnet, hcssn) on a split's ground-truth segments; "
             "resumes an interrupted run")
    p.add_argument("--method", required=True, help="trainable superpixel method")
    add_superpixel_dataset_arguments(p)
    p.add_argument("--out", required=True, help="run folder")
    # None: the method's paper setting (its class's paper_training, methods/superpixels)
    p.add_argument("--iters", type=int, default=None, help="training steps (default: the paper's)")
    p.add_argument("--batch-size", type=int, default=None, help="crops per step (default: the paper's)")
    p.add_argument("--crop", type=parse_size, default=None, help="random crop HxW (default: the paper's)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: the paper's)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--checkpoint-every", type=int, default=defaults.TRAIN_CHECKPOINT_EVERY,
                   help="steps between checkpoints (an interrupted run resumes from the last)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="method option")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")

    p = verb("study", cmd_study, "run a dataset study a method family declares (priors, sampling_points)")
    p.add_argument("name", help="registered study")
    p.add_argument("args", nargs=argparse.REMAINDER, help="--dataset D --root DIR (or --dataset-card FILE) --out FILE.csv and the study's options")
    for alias, name in STUDY_ALIASES.items():
        p = verb(alias, cmd_study, f"alias of `dsbench study {name}`")
        p.add_argument("args", nargs=argparse.REMAINDER, help="--dataset D --root DIR (or --dataset-card FILE) --out FILE.csv and the study's options")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in STUDY_ALIASES:
        # An alias has no positional before its REMAINDER, which then cannot start with an option
        # (argparse): parse it as the study verb it names.
        argv = ["study", STUDY_ALIASES[argv[0]], *argv[1:]]
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except DsbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write the OS refused outside benchmark.io (e.g. creating a folder)
        print(f"error: {cannot_write(exc.filename, exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Every file is written atomically, so an interrupt leaves no half-written output.
        print(INTERRUPTED, file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
