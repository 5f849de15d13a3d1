"""The ``bfer`` command: thin sub-commands over the package's modules."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .data.dataset import MAX_PIXELS
from .errors import BalancedFerError
from .faces.detector import DEFAULT_DETECTOR, DEFAULT_MIN_SCORE
from .inference import FILE_BATCH
from .inference.tracking import FaceTracker
from .labels import parse_class_map
from .serving.decode import ServiceLimits


def _write_json(path: Path | None, payload: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {path}")


def _add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="dataset: PATH (format detected) or FORMAT:PATH, e.g. ferplus:data/ferplus")
    group = parser.add_argument_group("dataset options")
    group.add_argument(
        "--strict", action="store_true", help="stop at the first bad image or row instead of skipping it"
    )
    group.add_argument(
        "--label-mode", choices=("majority", "plurality", "probability"), help="FER+ label rule (default majority)"
    )
    group.add_argument(
        "--drop-single-votes", action="store_true", default=None, help="FER+: ignore emotions with one vote"
    )
    group.add_argument(
        "--class-map", type=parse_class_map, metavar="NAME=EXPR,...", help="folder names to expressions (or 'ignore')"
    )
    group.add_argument("--peak-frames", type=int_at_least(1), help="CK+ sequences: last frames labelled (default 3)")
    group.add_argument(
        "--include-neutral", action="store_true", default=None, help="CK+ sequences: first frame as neutral"
    )
    group.add_argument(
        "--cache-dir", type=Path, help="array cache folder (default $BFER_CACHE_DIR or ~/.cache/balanced-fer)"
    )


def _open_dataset(args: argparse.Namespace):
    from .data import open_dataset

    names = ("strict", "label_mode", "drop_single_votes", "class_map", "peak_frames", "include_neutral")
    values = {name: getattr(args, name, None) for name in names}  # commands without dataset options have none
    return open_dataset(args.spec, **{name: None if value is False else value for name, value in values.items()})


def _cmd_data_stats(args: argparse.Namespace) -> int:
    from .data.stats import dataset_stats, format_stats, plot_counts

    dataset = _open_dataset(args)
    stats = dataset_stats(
        dataset,
        size=args.size,
        head=args.head,
        tail=args.tail,
        blank_std=args.blank_std,
        cache_dir=args.cache_dir,
        strict=args.strict,
        progress=not args.no_progress,
    )
    print(format_stats(stats))
    chart = plot_counts(stats, Path(args.chart or f"{dataset.name}-class-counts.png"))
    print(f"wrote {chart}")
    _write_json(args.json, stats.to_dict())
    return 0


def _cmd_data_cache(args: argparse.Namespace) -> int:
    from .data import load_arrays

    dataset = _open_dataset(args)
    payload = {}
    for split in args.split or dataset.splits:
        start = time.perf_counter()
        arrays = load_arrays(
            dataset,
            split,
            args.size,
            args.channels,
            cache_dir=args.cache_dir,
            strict=args.strict,
            rebuild=args.rebuild,
            progress=not args.no_progress,
        )
        seconds = time.perf_counter() - start
        print(f"{split}: {len(arrays):,} faces {arrays.images.shape[1:]} in {seconds:.2f} s -> {arrays.path}")
        payload[split] = {"faces": len(arrays), "seconds": seconds, "path": str(arrays.path), "skipped": arrays.skipped}
    _write_json(args.json, payload)
    return 0


def _cmd_data_subsets(args: argparse.Namespace) -> int:
    from .data.stats import imbalance_ratio
    from .imbalance.subsets import balanced_subsets, subset_overlap

    dataset = _open_dataset(args)
    part = dataset.split(args.split)
    labels = [s.label for s in part.samples]
    target = int(args.target) if args.target.isdigit() else args.target
    divisors = None if args.divisors == "none" else args.divisors
    if divisors not in (None, "auto"):
        try:
            divisors = [float(d) for d in divisors.split(",")]
        except ValueError:
            raise BalancedFerError(f"--divisors {args.divisors!r}: expected auto, none or numbers like 5,5,1") from None
    subsets = balanced_subsets(
        labels, args.k, target=target, divisors=divisors, max_upsample=args.max_upsample, seed=args.seed
    )
    overlap = subset_overlap(subsets)
    width = max(len(n) for n in dataset.class_names + ("class",))
    print(f"{'class':<{width}}  {'full':>7}  " + "  ".join(f"{f'subset {i + 1}':>9}" for i in range(args.k)))
    full = part.counts()
    for c, name in enumerate(dataset.class_names):
        print(f"{name:<{width}}  {full[c]:>7,}  " + "  ".join(f"{s.counts[c]:>9,}" for s in subsets))
    print(f"{'total':<{width}}  {full.sum():>7,}  " + "  ".join(f"{len(s.indices):>9,}" for s in subsets))
    print(
        f"{'max/min':<{width}}  {imbalance_ratio(full):>7.1f}  "
        + "  ".join(f"{s.imbalance_ratio:>9.1f}" for s in subsets)
    )
    if args.k > 1:
        print("\nshare of subset i's faces also in subset j:")
        print(f"{'':<{width}}  " + "  ".join(f"{f'subset {j + 1}':>9}" for j in range(args.k)))
        for i, row in enumerate(overlap):
            print(f"{f'subset {i + 1}':<{width}}  " + "  ".join(f"{100 * v:>8.1f}%" for v in row))
    _write_json(
        args.json,
        {
            "class_names": list(dataset.class_names),
            "full": full.tolist(),
            "subsets": [{"counts": s.counts, "imbalance_ratio": s.imbalance_ratio} for s in subsets],
            "overlap": overlap.tolist(),
        },
    )
    return 0


def _cmd_data_formats(args: argparse.Namespace) -> int:
    from .data import FORMATS

    for name, fmt in sorted(FORMATS.items()):
        print(f"{name:<10} {fmt.description}")
    return 0


def _cmd_soft_targets(args: argparse.Namespace) -> int:
    from .data import open_dataset
    from .training import load_recipe
    from .training.distill import (
        VOTES_SOURCE,
        TargetViews,
        save_soft_targets,
        teacher_log_probs,
        view_log_probs,
        vote_log_probs,
    )
    from .training.trainer import resolve_device

    if args.votes and args.held_out:
        raise BalancedFerError("--held-out is for --teacher: crowd votes were never trained on")
    if args.views and (args.votes or args.held_out):
        raise BalancedFerError("--views is for teachers that score every face: not with --votes or --held-out")
    if not args.views and (args.epochs is not None or args.view_seed is not None):
        raise BalancedFerError("--epochs and --view-seed choose views: give --views RECIPE")
    dataset = _open_dataset(args)
    progress, views = not args.no_progress, None
    if args.views:
        views = TargetViews.of_recipe(load_recipe(args.views, []), args.epochs, args.view_seed)
        log_probs, labels, prior_weight = view_log_probs(
            args.teacher,
            dataset,
            args.split,
            views,
            tta=args.tta,
            device=resolve_device(args.device),
            progress=progress,
        )
        sources, source = (
            args.teacher,
            f"{len(args.teacher)} teacher(s) on {views.epochs} epochs of {args.views}'s views",
        )
    elif args.votes:
        try:
            votes = open_dataset(args.votes, label_mode="probability")
        except BalancedFerError as err:
            raise BalancedFerError(f"--votes needs a dataset with vote distributions, such as FER+ ({err})") from None
        log_probs, labels, voted = vote_log_probs(dataset, args.split, votes, progress=progress)
        sources, prior_weight = [f"{VOTES_SOURCE}: {args.votes} (FER+ probability rule)"], 1.0
        source = f"{VOTES_SOURCE} for {voted:,} of them (the others keep their own label)"
    else:
        log_probs, labels, prior_weight = teacher_log_probs(
            args.teacher,
            dataset,
            args.split,
            tta=args.tta,
            held_out=args.held_out,
            device=resolve_device(args.device),
            progress=progress,
        )
        sources, source = args.teacher, f"{len(args.teacher)} teacher(s)"
        if args.held_out:
            source += ", each on the faces it held out"
    path = save_soft_targets(args.out, log_probs, labels, sources, prior_weight, held_out=args.held_out, views=views)
    answers = log_probs.argmax(-1).numpy()  # (faces,) or (faces, epochs) of views
    agreement = float((answers == labels.reshape(len(labels), *[1] * (answers.ndim - 1))).mean())
    print(
        f"wrote {path}: {len(labels):,} faces x {log_probs.shape[-1]} classes from {source}, "
        f"which agree with the labels on {100 * agreement:.1f}%; train a student with --set distill.targets={path}"
    )
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import format_report, report

    values = report()
    print(format_report(values), end="")
    _write_json(args.json, values)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from .inference import OnnxBackend, load_backend
    from .models import create_model, default_input_size, list_models
    from .pretrained import TIERS, list_pretrained

    print("architectures (bfer train):")
    names = list_models(args.pattern)
    if not names:
        print(f"  none matches {args.pattern!r}")
    for name in names:
        params = sum(p.numel() for p in create_model(name, num_classes=7, in_chans=1).parameters())
        print(
            f"  {name:<18} {params / 1e6:6.2f} M parameters (7 classes, grey), designed for {default_input_size(name)} px"
        )
    print("shipped models (bfer predict --model NAME), with the validation figures of the file prediction runs:")
    for name in list_pretrained():
        backend = load_backend(name)
        figures = backend.description.figures or {}
        runs = "PyTorch checkpoint"
        if isinstance(backend, OnnxBackend):
            runs = "int8 ONNX" if backend.description.quantization else "ONNX"
        tiers = [(alias, tier) for alias, tier in TIERS.items() if tier.model == name]
        aliases = "".join(f" (= {alias})" for alias, _ in tiers)
        print(
            f"  {name + aliases:<28} {backend.description.validation_data or 'validation'}:"
            f" accuracy {100 * figures.get('accuracy', float('nan')):.2f}%,"
            f" mean class accuracy {100 * figures.get('mean_class_accuracy', float('nan')):.2f}% ({runs})"
        )
        for alias, tier in tiers:
            print(f"  {'':<28} {alias}: {tier.purpose}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .runs import train

    summary = train(args.recipe, args.out, overrides=args.set or [], resume=args.resume, progress=not args.no_progress)
    if summary:
        v = summary["validation"]
        print(
            f"{summary['recipe']}: best epoch {summary.get('best_epoch', 'last')}, validation accuracy {100 * v['accuracy']:.2f}%, "
            f"mean class accuracy {100 * v['mean_class_accuracy']:.2f}%, macro-F1 {100 * v['macro_f1']:.2f}% -> {summary['checkpoint']}"
        )
        _write_json(args.json, summary)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import save_evaluation, to_markdown
    from .inference.evaluate import evaluate_checkpoint

    dataset = _open_dataset(args)
    result = evaluate_checkpoint(
        args.checkpoint,
        dataset,
        args.split,
        tta=args.tta,
        tau=args.post_hoc_tau,
        prior=args.prior,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        known_classes_only=args.known_classes_only,
    )
    title = f"{Path(args.checkpoint).name} on {dataset.name} {args.split}"
    unknown = [c for c in dataset.class_names if c not in result.class_names]
    if unknown:
        left_out = sum(int(dataset.split(args.split).counts()[dataset.class_names.index(c)]) for c in unknown)
        title += f" ({left_out:,} faces of {', '.join(unknown)}, which the model does not know, left out)"
    print(to_markdown(result, title))
    if args.out:
        for path in save_evaluation(result, Path(args.out), stem=args.split, title=title).values():
            print(f"wrote {path}")
    _write_json(args.json, result.to_dict())
    return 0


def _cmd_decouple(args: argparse.Namespace) -> int:
    from .evaluation import to_markdown
    from .inference.evaluate import evaluate_checkpoint, validation_dataset
    from .models import load_checkpoint
    from .training.rebalance import decouple_checkpoint
    from .training.recipe import DecoupleConfig

    cfg = DecoupleConfig(method=args.method, epochs=args.epochs, lr=args.lr, tau=args.tau)
    out = decouple_checkpoint(
        args.checkpoint, args.out, cfg, post_hoc_tau=args.post_hoc_tau, progress=not args.no_progress
    )
    print(f"wrote {out}")
    dataset, split = validation_dataset(load_checkpoint(out)[1])
    result = evaluate_checkpoint(out, dataset, split, progress=not args.no_progress)
    print(to_markdown(result, f"{out.name} on {dataset.name} {split}"))
    _write_json(args.json, result.to_dict())
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .inference import Recognizer
    from .inference.predict_files import write_records
    from .inference.sources import predict_sources

    recognizer = Recognizer(
        args.model, tta=args.tta, prior=args.prior, threads=args.threads, **_detection_options(args)
    )
    records = predict_sources(
        recognizer,
        args.paths,
        webcam=args.webcam,
        detect=not args.no_detect,
        annotate_dir=args.annotate,
        smoothing=args.smoothing,
        every=args.every,
        max_frames=args.max_frames,
        max_pixels=args.max_pixels,
        batch_size=args.batch_size,
        workers=args.workers,
        progress=not args.no_progress,
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as handle:
            count = write_records(records, handle, args.format, recognizer.classes_)
        print(f"wrote {count} records to {args.out}", file=sys.stderr)
    else:
        write_records(records, sys.stdout, args.format, recognizer.classes_)
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from .inference.calibrate import calibrate_checkpoint
    from .inference.evaluate import validation_dataset
    from .models import load_checkpoint

    if args.spec:
        dataset, split = _open_dataset(args), args.split
    else:
        dataset, split = validation_dataset(load_checkpoint(args.checkpoint)[1])
    temperature, before, after = calibrate_checkpoint(
        args.checkpoint, args.out, dataset, split, progress=not args.no_progress
    )
    print(
        f"temperature {temperature:.3f} on {dataset.name} {split}: NLL {before.nll:.4f} -> {after.nll:.4f}, "
        f"ECE {before.ece:.4f} -> {after.ece:.4f}; wrote {args.out}"
    )
    _write_json(args.json, {"temperature": temperature, "before": before.to_dict(), "after": after.to_dict()})
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .serving.app import CONFIG_ENV, create_app, serve_config, uvicorn_settings
    except ImportError as err:
        raise BalancedFerError(
            f"bfer serve needs the web extras ({err.name} is missing): pip install 'balanced-fer[serve]'"
        ) from None
    limits = ServiceLimits(
        max_upload_bytes=int(args.max_upload_mb * 2**20), **{name: getattr(args, name) for _, name, *_ in SERVICE_FLAGS}
    )
    options = dict(prior=args.prior, **_detection_options(args))
    app = create_app(args.model, limits, **options)  # a bad model fails here
    print(
        f"bfer: serving on http://{args.host}:{args.port}/ (API schema at /openapi.json); Ctrl-C stops", file=sys.stderr
    )
    if args.workers > 1:  # each worker process builds its own app from the environment
        os.environ[CONFIG_ENV] = serve_config(args.model, limits, **options)
        uvicorn.run(
            "balanced_fer.serving.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            **uvicorn_settings(limits),
        )
    else:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", **uvicorn_settings(limits))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .inference.export import export_gap, export_int8, export_onnx

    args.out = args.out or Path(f"{Path(args.checkpoint).stem}.onnx")

    if args.int8 is not None:
        result = export_int8(
            args.checkpoint, args.out, args.int8, args.split, args.faces, args.opset, progress=not args.no_progress
        )
        message = f"wrote {result.path} (int8, opset {args.opset}, dynamic batch, calibrated on "
        message += f"{result.calibration_faces} faces of {args.int8} {args.split})"
        if result.agreement is not None:
            message += f"; same label as PyTorch on {100 * result.agreement:.1f}% of {result.checked_faces} other faces"
        if result.validation:
            v = result.validation
            message += f"; validation accuracy {100 * v['accuracy']:.2f}%, mean class accuracy "
            message += f"{100 * v['mean_class_accuracy']:.2f}% ({result.validation_note})"
        else:
            message += f"; validation figures {result.validation_note}"
        print(message)
        return 0
    out = export_onnx(args.checkpoint, args.out, opset=args.opset)
    gap = export_gap(args.checkpoint, out)
    print(f"wrote {out} (opset {args.opset}, dynamic batch); largest logit difference to PyTorch on 8 faces: {gap:.2e}")
    return 0


def _add_detection_arguments(parser: argparse.ArgumentParser) -> None:
    """The face detector's flags, the same for bfer predict and bfer serve."""
    parser.add_argument(
        "--detector",
        default=DEFAULT_DETECTOR,
        help="BlazeFace 'full', 'short', or a .tflite path (default %(default)s)",
    )
    parser.add_argument(
        "--detection-threshold",
        type=number_in(0, 1),
        default=DEFAULT_MIN_SCORE,
        help="detection score a face needs, between 0 and 1; lower finds more faces (default %(default)s)",
    )
    parser.add_argument(
        "--min-face-size",
        type=number_in(0),
        default=0,
        metavar="PX",
        help="leave out faces smaller than this many pixels a side (default 0: keep all)",
    )


def _detection_options(args: argparse.Namespace) -> dict:
    return dict(detector=args.detector, detection_threshold=args.detection_threshold, min_face_size=args.min_face_size)


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer within [minimum, maximum], else argparse's one-line usage error."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its message for a non-number
    return parse


def _writable_place(path: Path, kind: str) -> Path:
    """``path`` if a ``kind`` ("file" or "folder") can be written there: checked when the command line
    is read, so an unwritable output fails before the work rather than after it."""
    if path.exists() and path.is_dir() != (kind == "folder"):
        raise argparse.ArgumentTypeError(f"{path} is a {'file' if kind == 'folder' else 'folder'}; give a {kind} name")
    if path.exists() and kind == "file":  # a file to replace, or /dev/null
        if not os.access(path, os.W_OK):
            raise argparse.ArgumentTypeError(f"{path} is not writable")
        return path
    folder = next(p for p in (path, *path.parents) if p.exists())  # where missing folders would start
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot create files in {folder} ({err.strerror or err})") from None
    return path


def output_file(text: str) -> Path:
    """An argparse type: a file path this process can write (its missing folders are made on writing)."""
    return _writable_place(Path(text), "file")


def output_folder(text: str) -> Path:
    """An argparse type: a folder this process can write in, existing or not."""
    return _writable_place(Path(text), "folder")


def number_in(
    low: float = -math.inf, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number within the bounds (excluding an open one), else argparse's
    one-line usage error (NaN and infinity never pass)."""
    bounds = [
        f"{'above' if low_open else 'at least'} {low:g}" if low > -math.inf else "",
        f"{'below' if high_open else 'at most'} {high:g}" if high < math.inf else "",
    ]
    wanted = f"a finite number {' and '.join(b for b in bounds if b)}".rstrip()

    def parse(text: str) -> float:
        value = float(text)
        inside = low < value if low_open else low <= value
        inside = inside and (value < high if high_open else value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = "number"  # argparse names the type in its message for a non-number
    return parse


SERVICE_FLAGS = (  # bfer serve's flags for ServiceLimits fields: flag, field, type, help; defaults are the fields'
    ("--concurrency", "max_concurrency", int_at_least(1), "images analysed at once per worker"),
    ("--queue", "max_queue", int_at_least(0), "requests that may wait; more get 429"),
    ("--timeout", "timeout_s", number_in(0, low_open=True), "seconds a request may take; then 503"),
    (
        "--max-pixels",
        "max_pixels",
        int_at_least(1),
        "most pixels of one request's images together, checked before decoding",
    ),
    ("--max-batch", "max_batch", int_at_least(1), "images per batch request"),
)


def build_parser() -> argparse.ArgumentParser:
    from .pretrained import TIERS

    model_help = f"a shipped model ({', '.join(TIERS)}: see bfer models), a .safetensors checkpoint or an .onnx export"
    parser = argparse.ArgumentParser(
        prog="bfer", description="balanced-fer: facial expression recognition that stays accurate on rare expressions."
    )
    parser.add_argument("--version", action="version", version=f"balanced-fer {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors: no warnings, no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="inspect and cache datasets").add_subparsers(
        dest="data_command", required=True, metavar="ACTION"
    )
    stats = data.add_parser("stats", help="class counts, imbalance, duplicates and blank images, with a chart")
    _add_dataset_arguments(stats)
    stats.add_argument(
        "--size",
        type=int_at_least(8),
        default=48,
        help="pixel size at which duplicates and blanks are found (default 48)",
    )
    stats.add_argument(
        "--head",
        type=number_in(0, 1, low_open=True),
        default=0.5,
        help="head classes have >= HEAD x the largest count (default 0.5)",
    )
    stats.add_argument(
        "--tail",
        type=number_in(0, 1, low_open=True),
        default=0.2,
        help="tail classes have < TAIL x the largest count (default 0.2)",
    )
    stats.add_argument(
        "--blank-std",
        type=number_in(0),
        default=5.0,
        help="near-blank: pixel standard deviation below this (default 5)",
    )
    stats.add_argument("--chart", type=output_file, help="PNG bar chart path (default ./<dataset>-class-counts.png)")
    stats.add_argument("--json", metavar="OUT", type=output_file, help="also write the figures as JSON")
    stats.add_argument("--no-progress", action="store_true", help="no progress bar")
    stats.set_defaults(run=_cmd_data_stats)

    cache = data.add_parser("cache", help="decode and cache a dataset's splits as arrays")
    _add_dataset_arguments(cache)
    cache.add_argument("--split", action="append", help="split(s) to cache (default: all)")
    cache.add_argument("--size", type=int_at_least(8), default=48, help="face size in pixels (default 48)")
    cache.add_argument("--channels", type=int, choices=(1, 3), default=1, help="1 grey or 3 RGB (default 1)")
    cache.add_argument("--rebuild", action="store_true", help="rebuild even if a valid cache exists")
    cache.add_argument("--json", metavar="OUT", type=output_file, help="also write timings as JSON")
    cache.add_argument("--no-progress", action="store_true", help="no progress bar")
    cache.set_defaults(run=_cmd_data_cache)

    subsets = data.add_parser("subsets", help="DBL's balanced multi-subsets of a training split: counts and imbalance")
    _add_dataset_arguments(subsets)
    subsets.add_argument("--split", default="train", help="split to divide (default %(default)s)")
    subsets.add_argument("--k", type=int_at_least(1), default=3, help="number of subsets (default 3)")
    subsets.add_argument(
        "--divisors",
        default="auto",
        help="class c keeps n_c / d_c: auto (the DBL authors' rule, default), numbers in class order "
        "(5,5,5,5,5,1,5), or none to use --target",
    )
    subsets.add_argument(
        "--target",
        default="median",
        help="with --divisors none: images per class, a number, median, mean or min (default median)",
    )
    subsets.add_argument(
        "--max-upsample",
        type=number_in(1),
        default=3.0,
        help="tail classes repeated at most this many times (default 3)",
    )
    subsets.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the draws (default %(default)s)")
    subsets.add_argument("--json", metavar="OUT", type=output_file, help="also write the counts as JSON")
    subsets.set_defaults(run=_cmd_data_subsets)

    formats = data.add_parser("formats", help="list the dataset formats that can be read")
    formats.set_defaults(run=_cmd_data_formats)

    models = commands.add_parser("models", help="list the registered models")
    models.add_argument("pattern", nargs="?", default="*", help="glob pattern, e.g. 'resnet*'")
    models.set_defaults(run=_cmd_models)

    soft = commands.add_parser(
        "soft-targets", help="teachers' scores on a training split, for distilling a student (distill.targets)"
    )
    _add_dataset_arguments(soft)
    source = soft.add_mutually_exclusive_group(required=True)
    source.add_argument("--teacher", action="append", help="a teacher checkpoint (repeat for an ensemble)")
    source.add_argument(
        "--votes",
        metavar="SPEC",
        help="crowd votes instead: FER+ (e.g. ferplus:../shared/datasets/ferplus), matched to the faces by pixels",
    )
    soft.add_argument("--split", default="train", help="split to score (default %(default)s)")
    soft.add_argument("--tta", default="flip", help="teachers' test-time augmentation, none or flip (default flip)")
    soft.add_argument(
        "--held-out",
        action="store_true",
        help="each teacher scores only the faces its recipe held out (data.held_out_fold): targets from "
        "teachers that never trained on the face",
    )
    soft.add_argument(
        "--views",
        metavar="RECIPE",
        help="score the augmented views RECIPE's student sees in each epoch (its data and augment sections), "
        "not the faces once: consistent teaching without the teachers at training time",
    )
    soft.add_argument(
        "--epochs", type=int_at_least(1), help="with --views: epochs of views (default the recipe's schedule.epochs)"
    )
    soft.add_argument("--view-seed", type=int_at_least(0), help="with --views: which views (default 0)")
    soft.add_argument(  # training.recipe.DEVICES, spelt out: importing it would load torch at every start
        "--device", default="auto", choices=("auto", "cpu", "cuda"), help="where teachers run (default: a GPU if any)"
    )
    soft.add_argument("--out", type=output_file, required=True, help="the .safetensors file to write")
    soft.add_argument("--no-progress", action="store_true", help="no progress bar")
    soft.set_defaults(run=_cmd_soft_targets)

    doctor = commands.add_parser(
        "doctor", help="versions, CPU flags, onnxruntime providers, where models and caches live (for bug reports)"
    )
    doctor.add_argument("--json", metavar="OUT", type=output_file, help="also write it as JSON")
    doctor.set_defaults(run=_cmd_doctor)

    train = commands.add_parser("train", help="train a model from a YAML recipe")
    train.add_argument("recipe", type=Path, help="recipe file, e.g. configs/fer2013_compact.yaml")
    train.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a recipe key, e.g. optim.lr=0.05 (repeatable)"
    )
    train.add_argument("--out", type=output_folder, help="run folder (default runs/<recipe name>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last saved epoch")
    train.add_argument("--json", metavar="OUT", type=output_file, help="also write the run summary as JSON")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(run=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on a dataset split")
    evaluate.add_argument(
        "checkpoint",
        help="a .safetensors checkpoint written by bfer train, its .onnx export, or a shipped model's name",
    )
    _add_dataset_arguments(evaluate)
    evaluate.add_argument("--split", default="val", help="split to evaluate (default val)")
    evaluate.add_argument(
        "--tta", help="test-time augmentation, none or flip (default: the model's own, from its recipe)"
    )
    evaluate.add_argument(
        "--post-hoc-tau", type=number_in(), help="post-hoc logit adjustment strength (default: the checkpoint's)"
    )
    evaluate.add_argument(
        "--prior", help="re-target the scores to class frequencies: train, uniform, or a JSON file {class: frequency}"
    )
    evaluate.add_argument(
        "--known-classes-only",
        action="store_true",
        help="leave out faces of classes the model does not know (a 7-class model on FER+'s 8)",
    )
    evaluate.add_argument("--out", type=output_folder, help="folder for the JSON, Markdown and confusion-matrix PNG")
    evaluate.add_argument("--json", metavar="OUT", type=output_file, help="write the evaluation JSON here")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=_cmd_evaluate)

    predict = commands.add_parser("predict", help="recognise expressions in images, folders, videos and webcams")
    predict.add_argument("paths", nargs="*", help="images, folders (searched recursively) or videos")
    predict.add_argument("--model", default="default", help=model_help)
    predict.add_argument("--no-detect", action="store_true", help="each image is already a face crop")
    _add_detection_arguments(predict)
    predict.add_argument(
        "--annotate", type=output_folder, help="folder for copies of the images / videos with faces drawn"
    )
    predict.add_argument(
        "--webcam", type=int_at_least(0), metavar="N", help="also read webcam N (stop with Ctrl-C or --max-frames)"
    )
    predict.add_argument(
        "--smoothing",
        type=number_in(0, 1, high_open=True),
        default=FaceTracker.smoothing,
        help="videos: weight of a face's past scores (default %(default)s)",
    )
    predict.add_argument(
        "--every", type=int_at_least(1), default=1, help="videos: analyse one frame in EVERY (default 1)"
    )
    predict.add_argument(
        "--max-pixels",
        type=int_at_least(1),
        default=MAX_PIXELS,
        help=f"refuse images of more pixels, read from their headers (default {MAX_PIXELS:,})",
    )
    predict.add_argument(
        "--max-frames", type=int_at_least(1), help="videos / webcam: stop after this many analysed frames"
    )
    predict.add_argument("--prior", help="re-target scores to class frequencies: train, uniform or a JSON file")
    predict.add_argument(
        "--tta", help="test-time augmentation, none or flip (default: the model's own, from its recipe)"
    )
    predict.add_argument(
        "--format",
        choices=("jsonl", "csv", "text"),
        default="jsonl",
        help="output format (default jsonl; text: for people)",
    )
    predict.add_argument("--out", type=output_file, help="write the records here instead of standard output")
    predict.add_argument(
        "--batch-size",
        type=int_at_least(1),
        default=FILE_BATCH,
        help="images read and scored together (default %(default)s)",
    )
    predict.add_argument(
        "--workers",
        type=int_at_least(1),
        default=1,
        help="processes sharing the image files, one thread each unless --threads (default 1; try one per core)",
    )
    predict.add_argument(
        "--threads", type=int_at_least(1), help="threads of the model and the detector (default: one per core)"
    )
    predict.add_argument("--no-progress", action="store_true", help="no progress bar")
    predict.set_defaults(run=_cmd_predict)

    calibrate = commands.add_parser(
        "calibrate", help="fit temperature scaling on validation data, store it in the checkpoint"
    )
    calibrate.add_argument("checkpoint", help="a .safetensors checkpoint")
    calibrate.add_argument(
        "spec", nargs="?", help="validation data (default: the checkpoint recipe's validation split)"
    )
    calibrate.add_argument("--split", default="val", help="split of SPEC (default val)")
    calibrate.add_argument("--out", type=output_file, required=True, help="the calibrated checkpoint")
    calibrate.add_argument(
        "--json", metavar="OUT", type=output_file, help="also write the figures before and after as JSON"
    )
    calibrate.add_argument("--no-progress", action="store_true", help="no progress bar")
    calibrate.set_defaults(run=_cmd_calibrate)

    export = commands.add_parser(
        "export", help="export a checkpoint to ONNX (metadata carries classes and preprocessing)"
    )
    export.add_argument("checkpoint", help="a .safetensors checkpoint or a shipped model's name")
    export.add_argument(
        "out", type=output_file, nargs="?", help="the .onnx file to write (default: ./<checkpoint name>.onnx)"
    )
    export.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    export.add_argument(
        "--int8",
        metavar="SPEC",
        help="quantize to int8 (about twice as fast on the CPU), calibrating on faces of this dataset",
    )
    export.add_argument("--split", default="train", help="split of the --int8 dataset (default train)")
    export.add_argument(
        "--faces", type=int_at_least(1), default=512, help="faces to calibrate on, and as many to check (default 512)"
    )
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    export.set_defaults(run=_cmd_export)

    serve = commands.add_parser("serve", help="the web service and page (FastAPI)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int_at_least(0, 65535), default=8000, help="port (default 8000)")
    serve.add_argument("--model", default="default", help=model_help)
    serve.add_argument("--prior", help="re-target scores to class frequencies: train, uniform or a JSON file")
    _add_detection_arguments(serve)
    serve.add_argument("--workers", type=int_at_least(1), default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--max-upload-mb",
        type=number_in(0, low_open=True),
        default=ServiceLimits.max_upload_bytes / 2**20,
        help="largest image upload in MB (default %(default)s)",
    )
    for flag, name, kind, text in SERVICE_FLAGS:
        serve.add_argument(
            flag, dest=name, type=kind, default=getattr(ServiceLimits, name), help=f"{text} (default %(default)s)"
        )
    serve.set_defaults(run=_cmd_serve)

    decouple = commands.add_parser(
        "decouple", help="re-balance a checkpoint's classifier (cRT, tau-norm, LWS) on its training data"
    )
    decouple.add_argument("checkpoint", help="a .safetensors checkpoint written by bfer train")
    decouple.add_argument(
        "--method",
        choices=("crt", "tau_norm", "lws"),
        required=True,
        help="crt: a new head trained with class-balanced sampling; tau_norm: head rows scaled to w / |w|^tau; "
        "lws: a learned scale per class",
    )
    decouple.add_argument("--out", type=output_file, required=True, help="the new checkpoint")
    decouple.add_argument(
        "--epochs", type=int_at_least(1), default=10, help="classifier epochs for crt / lws (default 10)"
    )
    decouple.add_argument(
        "--lr", type=number_in(0, low_open=True), default=0.1, help="learning rate for crt / lws (default 0.1)"
    )
    decouple.add_argument("--tau", type=number_in(), default=1.0, help="tau-norm exponent (default 1)")
    decouple.add_argument(
        "--post-hoc-tau",
        type=number_in(),
        help="the post-hoc logit adjustment the new file stores (default: the checkpoint's); a negative tau "
        "puts |tau| x log prior back into the balanced head's scores",
    )
    decouple.add_argument("--json", metavar="OUT", type=output_file, help="write the validation evaluation JSON here")
    decouple.add_argument("--no-progress", action="store_true", help="no progress bar")
    decouple.set_defaults(run=_cmd_decouple)
    return parser


class _LogFormat(logging.Formatter):
    """Progress lines (INFO) as they are; warnings and errors with their level."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        return f"bfer: {message}" if record.levelno <= logging.INFO else f"bfer: {record.levelname.lower()}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    # FFmpeg's own log lines ("moov atom not found") would come before bfer's one error line for a bad
    # video; read when OpenCV first opens one, so setting it here is in time. A user's setting wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" not in os.environ:  # likewise OpenCV's warnings ("can not handle" a TIFF's samples)
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    args = build_parser().parse_args(argv)
    if args.quiet or not sys.stderr.isatty():  # progress bars only for a person watching a terminal
        args.no_progress = True
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormat())
    logging.basicConfig(handlers=[handler], level=logging.ERROR if args.quiet else logging.WARNING)
    logging.getLogger("balanced_fer").setLevel(logging.ERROR if args.quiet else logging.INFO)  # epoch lines
    try:
        return args.run(args)
    except BalancedFerError as err:
        print(f"bfer: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`bfer predict ... | head`): stop quietly, as a shell tool does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141
    except OSError as err:  # an unwritable --out / --json, a full disk: the file and the reason, no traceback
        print(f"bfer: error: {err.filename or ''}{': ' if err.filename else ''}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bfer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
