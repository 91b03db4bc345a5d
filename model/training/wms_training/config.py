"""params.yaml loading: paths in it are relative to the folder holding the file."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml


def load_params(path: str | Path, overrides: list[str] | None = None) -> dict:
    path = Path(path).resolve()
    params = yaml.safe_load(path.read_text())
    params["_base_dir"] = str(path.parent)
    for ov in overrides or []:
        key, _, value = ov.partition("=")
        if not _:
            raise ValueError(f"override {ov!r} must look like section.key=value")
        node = params
        *parents, leaf = key.split(".")
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = yaml.safe_load(value)
    return params


def resolve(params: dict, p: str | Path) -> Path:
    p = Path(p)
    return p if p.is_absolute() else (Path(params.get("_base_dir", ".")) / p).resolve()


def public(params: dict) -> dict:
    """The params as recorded in cards and MLflow (no private keys)."""
    return {k: copy.deepcopy(v) for k, v in params.items() if not k.startswith("_")}


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat(v, key + "."))
        else:
            out[key] = v
    return out
