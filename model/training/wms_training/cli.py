"""Command line: prepare, train, evaluate, export, predict, export-untrained, quantize."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .preprocess import BadInputError

DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


def cmd_export_untrained(a) -> int:
    from .untrained import export_untrained

    _print_json(export_untrained(a.out, size=a.size, seed=a.seed, version=a.version))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m wms_training", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("export-untrained", help="export a seeded random U-Net + example card")
    s.add_argument("--out", required=True)
    s.add_argument("--size", type=int, default=512)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--version", default="0.0.0-untrained")
    s.set_defaults(func=cmd_export_untrained)

    _add_more(sub)
    return p


def _add_more(sub) -> None:
    try:
        from . import commands
    except ImportError:
        return
    commands.register(sub)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BadInputError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
