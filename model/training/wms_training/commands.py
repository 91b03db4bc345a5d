"""Subcommands besides export-untrained (kept apart so that one imports nothing heavy)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"
DEFAULT_RUN = Path(__file__).resolve().parents[1] / "runs" / "latest"


def _params(a):
    from .config import load_params

    return load_params(a.params, a.set)


def cmd_prepare(a) -> int:
    from .config import resolve
    from .data import prepare, split_counts

    p = _params(a)
    mc = p["model"]
    ds, path = prepare(resolve(p, p["data"]["dir"]), resolve(p, p["data"]["cache_dir"]), int(mc["input_width"]),
                       int(mc["input_height"]), limit=a.limit, on_bad=p["data"].get("on_bad", "error"))
    print(json.dumps({"cache": str(path), "split": split_counts(ds), "skipped": ds.skipped}, indent=2))
    return 0


def cmd_train(a) -> int:
    from .train import train

    p = _params(a)
    summary = train(p, a.run_dir, resume=a.resume, limit=a.limit)
    print(json.dumps(summary, indent=2))
    if a.finalize:  # imported only here: a bare GPU machine may lack what evaluation/export need
        from .pipeline import evaluate_run, export_run

        metrics = evaluate_run(p, a.run_dir)
        print(json.dumps({k: metrics[k] for k in ("val", "test")}, indent=2))
        report = export_run(p, a.run_dir)
        print(json.dumps(report, indent=2))
    return 0


def cmd_evaluate(a) -> int:
    if a.run_dir:
        from .pipeline import evaluate_run

        print(json.dumps(evaluate_run(_params(a), a.run_dir), indent=2))
        return 0
    from .data import list_pairs
    from .evaluate import evaluate_pairs, onnx_mask_fn, url_mask_fn

    if not a.folder:
        raise ValueError("evaluate needs a folder with images/ and masks/ (or --run-dir)")
    if bool(a.model) == bool(a.url):
        raise ValueError("evaluate needs exactly one of --model <model.onnx> or --url <server>")
    pairs = list_pairs(a.folder)  # bad folders fail before any model is loaded
    if a.model:
        card_path = Path(a.card) if a.card else Path(a.model).with_name("model-card.json")
        card = json.loads(card_path.read_text())
        fn = onnx_mask_fn(a.model, card)
    else:
        fn = url_mask_fn(a.url)
    print(json.dumps(evaluate_pairs(pairs, fn, a.on_bad), indent=2))
    return 0


def cmd_export(a) -> int:
    from .pipeline import export_run

    print(json.dumps(export_run(_params(a), a.run_dir, a.out), indent=2))
    return 0


def _on_off(v: str) -> bool:
    if v not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, not {v!r}")
    return v == "on"


def cmd_quantize(a) -> int:
    from .quantize import study

    model = Path(a.model)
    card = json.loads(Path(a.card or model.with_name("model-card.json")).read_text())
    configs = [(m, n, a.selection, r) for r in (a.reduce_range or [True]) for m in (a.method or ["minmax"])
               for n in (a.calibration or [64])]
    if a.card_out and not a.out:
        raise ValueError("--card-out needs --out (the int8 model the card's variant describes)")
    report = study(model, card, Path(a.data), configs, Path(a.out) if a.out else None, a.threads)
    if a.card_out:
        from .card import write_card

        card["variants"] = {**card.get("variants", {}), "int8": report["variant"]}
        card["artifact"] = {**card["artifact"], "uri": model.resolve().as_uri()}
        write_card(card, a.card_out)
    print(json.dumps(report, indent=2))
    return 0


def cmd_predict(a) -> int:
    from .predict import predict

    for out in predict(a.model, a.card, a.out, a.images):
        print(out)
    return 0


def cmd_repro(a) -> int:
    from .release import repro

    return repro(Path(a.release), Path(DEFAULT_PARAMS).parent, a.tolerance, run=a.run)


def _common(s, run_dir=True):
    s.add_argument("--params", default=str(DEFAULT_PARAMS), help="params.yaml (default: %(default)s)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter, e.g. --set train.epochs=2 (repeatable)")
    if run_dir:
        s.add_argument("--run-dir", default=str(DEFAULT_RUN), help="run folder (default: %(default)s)")


def register(sub) -> None:
    s = sub.add_parser("prepare", help="decode, orient, resize and cache the dataset; print the split")
    _common(s, run_dir=False)
    s.add_argument("--limit", type=int, help="only the first N pairs (smoke runs)")
    s.set_defaults(func=cmd_prepare)

    s = sub.add_parser("train", help="train; then (unless --no-finalize) evaluate and export into the run folder")
    _common(s)
    s.add_argument("--resume", action="store_true", help="continue from <run-dir>/last.pt")
    s.add_argument("--limit", type=int, help="only the first N pairs (smoke runs)")
    s.add_argument("--no-finalize", dest="finalize", action="store_false",
                   help="stop after training (the DVC train stage)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="IoU/Dice of an ONNX model or a running server on a folder, "
                       "or (with --run-dir) of a run's best checkpoint on val+test")
    _common(s, run_dir=False)
    s.add_argument("--run-dir", help="evaluate this run's best checkpoint (writes metrics.json, CSV, PNG)")
    s.add_argument("--model", help="model.onnx")
    s.add_argument("--card", help="model-card.json (default: beside --model)")
    s.add_argument("--url", help="model server base URL; POSTs each photo to <url>/predictions/wms")
    s.add_argument("--on-bad", choices=["error", "skip"], default="error")
    s.add_argument("folder", nargs="?", help="folder with images/ and masks/")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("export", help="ONNX + parity + (int8) + model card from a run's best checkpoint")
    _common(s)
    s.add_argument("--out", help="output folder (default: the run folder)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("quantize", help="int8 of a release's fp32 ONNX: calibrate on train photos, "
                       "score fp32 and int8 on val and test, print the differences (JSON)")
    s.add_argument("--model", required=True, help="the release's fp32 model.onnx")
    s.add_argument("--card", help="model-card.json (default: beside --model)")
    s.add_argument("--data", required=True, help="dataset folder with images/ and masks/")
    s.add_argument("--method", action="append", choices=["minmax", "percentile", "entropy"],
                   help="calibration method (repeat to compare; default minmax)")
    s.add_argument("--calibration", action="append", type=int,
                   help="calibration photo count (repeat to compare; default 64)")
    s.add_argument("--selection", choices=["spread", "first"], default="spread",
                   help="spread: hash-ordered over the train split; first: the first by file name")
    s.add_argument("--reduce-range", action="append", type=_on_off, metavar="on|off",
                   help="7-bit weights (default on; repeat to compare, e.g. --reduce-range off --reduce-range on)")
    s.add_argument("--threads", type=int, help="onnxruntime intra-op threads")
    s.add_argument("--out", help="write the last configuration's int8 model here")
    s.add_argument("--card-out", help="with --out: write the card with that model as variants.int8 here "
                   "(then: npm run gen -- publish --model <fp32> --card <this> --int8 <out>)")
    s.set_defaults(func=cmd_quantize)

    s = sub.add_parser("predict", help="write <stem>.png masks (0/255) at each photo's displayed size")
    s.add_argument("--model", required=True)
    s.add_argument("--card", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("images", nargs="+")
    s.set_defaults(func=cmd_predict)

    from .release import DEFAULT_TOLERANCE

    s = sub.add_parser("repro", help="reproduce a release: its params.yaml into params.yaml, dvc repro, "
                       "compare val/test IoU and Dice with its metrics.json (exit 1 outside the tolerance)")
    s.add_argument("--release", required=True, help="the release folder, e.g. ../releases/wms/1.1.0")
    s.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help="largest |reproduced - release| per metric (default %(default)s)")
    s.add_argument("--no-run", dest="run", action="store_false",
                   help="compare the metrics.json already in runs/dvc (after a dvc repro of your own)")
    s.set_defaults(func=cmd_repro)
