#!/usr/bin/env bash
# Install everything the tests and tools need, idempotently: npm packages, the Python venv
# (training pipeline, MLflow, DVC, moto's S3 server), checkov's venv, and Debian's prometheus
# (promtool).
# Nothing is downloaded at run time afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

# onnxruntime-node's install script would fetch optional GPU binaries; the CPU ones ship in
# the package. npm 11 does not run unapproved install scripts anyway; these make it explicit.
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ] || [ model/training/requirements.txt -nt .venv/.installed ]; then
  echo "== Python venv (.venv) from model/training/requirements.txt"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  # torch==2.13.0 is pinned in the requirements: the CPU build (a plain 'torch' pulls CUDA).
  .venv/bin/pip install -q -r model/training/requirements.txt
  touch .venv/.installed
fi

# checkov (static checks of terraform/) lives in its own venv: its pins clash with MLflow's.
if [ ! -x .venv-checkov/bin/checkov ] || [ terraform/requirements-checkov.txt -nt .venv-checkov/.installed ]; then
  echo "== checkov venv (.venv-checkov) from terraform/requirements-checkov.txt"
  "$PY" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --upgrade pip
  .venv-checkov/bin/pip install -q -r terraform/requirements-checkov.txt
  touch .venv-checkov/.installed
fi

if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install prometheus (for promtool)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The package starts a prometheus service where systemd runs; tests start their own.
  else
    echo "promtool not found: install Debian's 'prometheus' package (sudo apt-get install prometheus)" >&2
    exit 1
  fi
fi
echo "setup done"
