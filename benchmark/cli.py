"""``dsbench`` (= ``python -m benchmark``): each verb a thin shell over library functions.

Imports are local to each verb so that ``dsbench figures``/``regress``/``aggregate`` never load
torch or a method.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from benchmark.errors import DsbenchError


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


# -- verbs --------------------------------------------------------------------------------

def cmd_make_data(args: argparse.Namespace) -> int:
    from benchmark.data import DATASETS

    spec = DATASETS.get(args.dataset)
    kwargs = {"seed": args.seed}
    if args.split_sizes:
        kwargs["split_sizes"] = args.split_sizes
    if args.size:
        kwargs["size"] = args.size
    stats = spec.make(args.root, **kwargs)
    print(f"wrote {args.dataset} to {args.root} in {stats.get('seconds', float('nan')):.1f} s")
    return 0


def _run_config_from_args(args: argparse.Namespace):
    from benchmark.engine.run_config import RunConfig

    return RunConfig(dataset=args.dataset, root=args.root, method=args.method, model=args.model,
                     encoder=args.encoder, output_stride=args.output_stride, resolution=args.resolution,
                     seed=args.seed, out=args.out, iters=args.iters, batch_size=args.batch_size, lr=args.lr,
                     checkpoint_every=args.checkpoint_every, crop=args.crop, device=args.device,
                     weight_decay=args.weight_decay, optimizer=args.optimizer, momentum=args.momentum,
                     lr_policy=args.lr_policy, scale_range=args.scale_range, encoder_weights=args.encoder_weights,
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
                       center_crop=args.center_crop, target_classes=args.target_classes, progress=not args.quiet)
    print(f"wrote {out}")
    if args.cost:
        from benchmark.cost.report import cost_of_run

        print(f"wrote {cost_of_run(args.run, device=args.device)}")
    return 0


def cmd_flops(args: argparse.Namespace) -> int:
    from benchmark.cost.report import cost_of_model, cost_of_run

    if args.run:
        out = cost_of_run(args.run, device=args.device, latency=not args.no_latency)
        print(f"wrote {out}")
        return 0
    if not (args.model and args.method and args.resolution):
        raise DsbenchError("flops needs --run RUN, or --model NET --method METHOD --resolution HxW (and optionally --image-size)")
    cost = cost_of_model(args.model, method=args.method, resolution=args.resolution, image_size=args.image_size,
                         encoder=args.encoder, dataset=args.dataset, method_options=parse_options(args.option))
    if args.json:
        print(json.dumps(cost, indent=2, sort_keys=True))
    else:
        print(f"{'stage':<10} {'GMACs':>10} {'GFLOPs':>10} {'params':>12}")
        for stage, c in cost["stages"].items():
            print(f"{stage:<10} {c['macs'] / 1e9:>10.4f} {c['flops'] / 1e9:>10.4f} {c['params']:>12,}")
        print(f"{'total':<10} {cost['macs'] / 1e9:>10.4f} {cost['flops'] / 1e9:>10.4f} {cost['params']:>12,}")
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
    settings = step.settings(parse_options(args.setting), where="--setting")
    result = step.run(args.dataset, args.root, args.out, **settings)
    print(json.dumps(result))
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
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--root", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="CSV of tidy rows")
    study.add_arguments(parser)
    study_args = parser.parse_args(args.args)
    study.run(study_args)
    print(f"wrote {study_args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.set_defaults(fn=fn)
        return p

    p = verb("make-data", cmd_make_data, "generate an embedded dataset (synthcity) in the Cityscapes layout")
    p.add_argument("--dataset", default="synthcity")
    p.add_argument("--root", required=True)
    p.add_argument("--split-sizes", type=parse_split_sizes, default=None, help="e.g. train=64,val=16")
    p.add_argument("--size", type=parse_size, default=None, help="image size HxW (default 512x1024)")
    p.add_argument("--seed", type=int, default=0)

    p = verb("train", cmd_train, "train a method + segmentation network (resumes an interrupted run)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--encoder", default=None, help="timm encoder name (default: the model's)")
    p.add_argument("--output-stride", type=int, default=None)
    p.add_argument("--resolution", type=parse_size, required=True, help="downsampled size HxW, e.g. 64x128")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--crop", type=parse_size, default=None, help="training crop HxW at full resolution")
    p.add_argument("--scale-range", type=parse_range, default=(0.75, 1.25), help="random rescale LOW,HIGH")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--lr-policy", choices=("poly", "cosine"), default="poly")
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
    p.add_argument("--cost", action="store_true",
                   help="also write RUN/cost.csv, as `dsbench flops --run RUN` does (one process: the DAG's evaluate rule)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")

    p = verb("flops", cmd_flops, "count the cost of a run (appends RUN/cost.csv) or of an untrained pipeline")
    p.add_argument("--run", default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--method", default=None, help="registered method (with --model)")
    p.add_argument("--encoder", default=None)
    p.add_argument("--dataset", default="synthcity")
    p.add_argument("--resolution", type=parse_size, default=None)
    p.add_argument("--image-size", type=parse_size, default=None, help="full-resolution input HxW (default: dataset's)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-latency", action="store_true", help="skip latency and memory measurement")

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

    p = verb("perf", cmd_perf, "side-by-side performance benchmark (prints ratios)")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="smaller inputs (smoke test)")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's own choice)")

    p = verb("prepare", cmd_prepare,
             "run a method's preparation step, once per dataset (e.g. Marin's auxiliary net)")
    p.add_argument("method", help="registered method with a preparation step")
    p.add_argument("--dataset", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--out", required=True, help="the artifact (checkpoint) to write")
    p.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of the step (JSON values), e.g. --setting iters=300")

    p = verb("study", cmd_study, "run a dataset study a method family declares (priors, sampling_points)")
    p.add_argument("name", help="registered study")
    p.add_argument("args", nargs=argparse.REMAINDER, help="--dataset D --root DIR --out FILE.csv and the study's options")
    for alias, name in STUDY_ALIASES.items():
        p = verb(alias, cmd_study, f"alias of `dsbench study {name}`")
        p.add_argument("args", nargs=argparse.REMAINDER, help="--dataset D --root DIR --out FILE.csv and the study's options")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except DsbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
