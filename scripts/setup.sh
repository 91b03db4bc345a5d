#!/usr/bin/env bash
# Install everything the tests and tools need, idempotently: the repository's Node (into
# .tools/node), npm packages, the Python venv (training pipeline, MLflow, DVC, moto's S3 server),
# checkov's venv, and promtool/prometheus 3 built from the Go module proxy.
# Nothing is downloaded at run time afterwards.
#
# Afterwards run the tests under that Node (what .ci/run does):
#   source scripts/node.sh && npm test
set -euo pipefail
cd "$(dirname "$0")/.."

# ---- Node: the version in .node-version into .tools/node, first on PATH (scripts/node.sh).
# SKIP_NODE=1: another OS/architecture, where that Node is already first on PATH.
if [ "${SKIP_NODE:-}" != 1 ]; then
  # shellcheck source=scripts/node.sh
  source scripts/node.sh || exit 1
fi

# onnxruntime-node's install script would fetch optional GPU binaries: package.json's allowScripts
# denies that script (npm's install-script policy), so a plain `npm ci` on a fresh clone needs no
# variable.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

PY=${PYTHON:-python3}
# pip over a flaky registry link. Large wheels (torch's CUDA libraries, ~3 GB from PyPI) get cut
# off mid-download, and pip's own resume does not get further. When pip names the wheel it could
# not fetch, curl fetches it in resumed pieces into a wheel cache (checked against the BLAKE2b-256
# digest in the path of the wheel URL pip reported) and pip runs again with that cache as --find-links.
WHEELS=${WMS_WHEEL_CACHE:-$HOME/.cache/wms-wheels}
fetch_wheel() { # url
  local url=$1 file digest
  file="$WHEELS/$(basename "$url")"
  [ -f "$file" ] && return 0
  digest=$(echo "$url" | sed -nE 's#^https://[^/]+/packages/(..)/(..)/([0-9a-f]{60})/[^/]+$#\1\2\3#p')
  [ -n "$digest" ] || { echo "not a wheel URL with its digest in the path: $url" >&2; return 1; }
  echo "== fetching $(basename "$url") with curl (resumed in pieces)" >&2
  for _ in $(seq 1 40); do
    if curl -fsSL --retry 3 --retry-all-errors -C - -o "$file.part" "$url"; then
      if [ "$("$PY" -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read(), digest_size=32).hexdigest())' "$file.part")" = "$digest" ]; then
        mv "$file.part" "$file"
        return 0
      fi
      echo "$(basename "$url"): digest mismatch, fetching again" >&2
      rm -f "$file.part"
    fi
    sleep 2
  done
  return 1
}
pip_install() { # venv-dir, pip args...
  local venv=$1 try log url
  shift
  mkdir -p "$WHEELS"
  for try in 1 2 3 4 5 6 7 8; do
    log=$(mktemp)
    if "$venv/bin/pip" install -q --retries 10 --find-links "$WHEELS" "$@" 2>&1 | tee "$log" >&2; then
      rm -f "$log"
      return 0
    fi
    url=$(grep -oE 'URL: https://[^ ]+\.whl' "$log" | tail -1 | cut -c6-)
    rm -f "$log"
    echo "pip install $* failed (try $try of 8)" >&2
    if [ -n "$url" ]; then fetch_wheel "$url" || return 1; else sleep $((try * 10)); fi
  done
  return 1
}
if [ ! -x .venv/bin/python ] || [ model/training/requirements.txt -nt .venv/.installed ]; then
  echo "== Python venv (.venv) from model/training/requirements.txt"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --retries 10 --upgrade pip
  # torch==2.13.0 from PyPI brings its CUDA wheels (~3 GB; it runs on the CPU here).
  pip_install .venv -r model/training/requirements.txt
  touch .venv/.installed
fi

# checkov (static checks of terraform/) lives in its own venv: its pins clash with MLflow's.
if [ ! -x .venv-checkov/bin/checkov ] || [ terraform/requirements-checkov.txt -nt .venv-checkov/.installed ]; then
  echo "== checkov venv (.venv-checkov) from terraform/requirements-checkov.txt"
  "$PY" -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --retries 10 --upgrade pip
  pip_install .venv-checkov -r terraform/requirements-checkov.txt
  touch .venv-checkov/.installed
fi

# promtool and prometheus of the Prometheus 3 release that kube-prometheus-stack deploys, built
# from the Go module proxy into .tools/bin (tests resolve them in test/support/prometheus-tools.ts).
# Go's own default paths keep the module and build caches between runs.
PATH="$PWD/.tools/node/bin:$PATH" bash scripts/setup-prometheus.sh
echo "setup done"
