#!/usr/bin/env bash
# The retrain loop, from data to a release staged in an environment, in one run. The train
# workflow (.github/workflows/train.yaml) calls it; model/training/tests/test_ci_train.py runs it
# for real with tiny settings against loopback servers (moto S3, an MLflow server, a temp git repo).
#
# Usage (from anywhere inside the repository):
#   model/training/tools/ci-train.sh [--version X.Y.Z] [--store URI] [--env dev] [--canary N]
#                                    [--if-changed] [--set section.key=value]...
#
#  1. checks, before any work: a clean git tree; MLFLOW_TRACKING_URI set and answering
#     (<uri>/health); a model store (--store or WMS_MODEL_STORE); the version free in the catalog
#     (default: the next minor after the catalog's newest release)
#  2. dvc pull: the dataset (dataset/water-meters.dvc) from the `storage` remote; with
#     --if-changed also the outputs dvc.lock names, and when `dvc status` then finds the pipeline
#     up to date with dvc.lock there is nothing to train: exit 0 (this is how a merged release
#     commit, which changes params.yaml and dvc.lock, does not train again)
#  3. dvc exp run -S output.version=<v> [-S key=value ...]: the pipeline in dvc.yaml (prepare,
#     train, evaluate, export) with MLflow logging and registration of model `wms`; the values
#     land in params.yaml and dvc.lock records the run
#  4. gen publish: model.onnx (+ model.int8.onnx) and the card to the store, the card into the
#     catalog; the release folder also gets the params.yaml, metrics.json, per_image.csv and
#     curves.png of the run (model/releases/wms/<v>/params.yaml == card training.params)
#  5. dvc push: the run's outputs, so the next --if-changed run finds dvc.lock satisfied
#  6. git commit "release: wms <v>" (params.yaml, dvc.lock, the release folder), then
#     gen deploy --env <env> --version <v> --canary <N> --commit: the version is staged there
#     (deployed, no traffic); its canary share follows once its Application is Healthy (the
#     command is printed at the end)
#
# Environment: MLFLOW_TRACKING_URI (required), WMS_MODEL_STORE (or --store), AWS credentials
# (the store and the DVC remote); AWS_ENDPOINT_URL_S3 for an S3-compatible server other than
# AWS (used for both); WMS_VENV: the Python venv (default <repo>/.venv).
set -euo pipefail

die() { echo "ci-train: $*" >&2; exit 2; }
usage() { sed -n '7,9p' "$0" | sed 's/^# \{0,3\}//' >&2; exit 2; }

version="" store="${WMS_MODEL_STORE:-}" env=dev canary=10 if_changed=false sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || die "--version needs a value, e.g. --version 1.2.0"; version=$2; shift 2 ;;
    --store) [ $# -ge 2 ] || die "--store needs a value, e.g. --store s3://wms-models"; store=$2; shift 2 ;;
    --env) [ $# -ge 2 ] || die "--env needs a value, e.g. --env dev"; env=$2; shift 2 ;;
    --canary) [ $# -ge 2 ] || die "--canary needs a percentage, e.g. --canary 10"; canary=$2; shift 2 ;;
    --set) [ $# -ge 2 ] || die "--set needs section.key=value"; sets+=("$2"); shift 2 ;;
    --if-changed) if_changed=true; shift ;;
    -h|--help) usage ;;
    *) echo "ci-train: unknown option $1" >&2; usage ;;
  esac
done

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
venv=${WMS_VENV:-$root/.venv}
[ -x "$venv/bin/dvc" ] || die "no DVC in $venv (run bash scripts/setup.sh, or set WMS_VENV)"
# the DVC stages run `python -m wms_training`: the venv's python must come first on PATH
export PATH="$venv/bin:$PATH" DVC_NO_ANALYTICS=1
training=model/training
releases=model/releases/wms

# -- 1. checks -------------------------------------------------------------------------------
[ -z "$(git status --porcelain)" ] || die "the git tree is not clean (git status): commit or stash first"
[ -n "${MLFLOW_TRACKING_URI:-}" ] || die "MLFLOW_TRACKING_URI is not set (the platform's MLflow, e.g. http://mlflow.mlflow.svc:5000)"
python - "$MLFLOW_TRACKING_URI" <<'EOF' || die "MLflow at $MLFLOW_TRACKING_URI does not answer: run on a runner that reaches it (see .github/workflows/train.yaml)"
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/health", timeout=10).read()
EOF
[ -n "$store" ] || die "no model store: pass --store s3://bucket[/prefix] or set WMS_MODEL_STORE"
[[ $canary =~ ^[0-9]+$ ]] && [ "$canary" -ge 1 ] && [ "$canary" -le 99 ] || die "--canary $canary: give a percentage 1-99"
if [ -z "$version" ]; then
  newest=$(find "$releases" -mindepth 2 -maxdepth 2 -name model-card.json -printf '%h\n' | xargs -n1 basename | sort -V | tail -1)
  [ -n "$newest" ] || die "no release in $releases to count from: pass --version"
  IFS=. read -r major minor _ <<<"${newest%%[-+]*}"
  version="$major.$((minor + 1)).0"
fi
[[ $version =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$ ]] || die "--version $version is not a release version (MAJOR.MINOR.PATCH)"
[ ! -e "$releases/$version" ] || die "$releases/$version already exists: releases are never overwritten; pass a new --version"
echo "ci-train: version $version, store $store, stage in $env (canary $canary%), MLflow $MLFLOW_TRACKING_URI"

# -- 2. data (and, with --if-changed, the question whether anything changed) -------------------
cd "$training"
if $if_changed && [ -f dvc.lock ]; then
  # dvc status --quiet: exit 0 when data and pipelines are up to date, 1 otherwise
  if dvc pull -q && dvc status --quiet; then
    echo "ci-train: the pipeline is up to date with dvc.lock (same code, params and data): nothing to train"
    exit 0
  fi
  echo "ci-train: dvc status finds changes (or the lock's outputs are not in the remote): training"
  dvc status 2>&1 | sed 's/^/  /' | head -40
fi
dvc pull dataset/water-meters.dvc

# -- 3. reproduce ------------------------------------------------------------------------------
set_args=(-S "output.version=$version")
for s in "${sets[@]}"; do set_args+=(-S "$s"); done
dvc exp run "${set_args[@]}"
run=runs/dvc
cd "$root"

# -- 4. publish, and the release folder --------------------------------------------------------
npm run --silent gen -- publish --model "$training/$run/export/model.onnx" \
  --card "$training/$run/export/model-card.json" --store "$store"
cp "$training/params.yaml" "$releases/$version/params.yaml"
for f in metrics.json per_image.csv curves.png; do cp "$training/$run/$f" "$releases/$version/"; done

# -- 5. the run's outputs to the DVC remote ----------------------------------------------------
(cd "$training" && dvc push -q)

# -- 6. commit, then stage in the environment --------------------------------------------------
git add "$training/params.yaml" "$training/dvc.lock" "$releases/$version"
git commit -q -m "release: wms $version" -m "Trained by $training/tools/ci-train.sh: dvc exp run, MLflow run in the card (training.mlflowRunId), model in $store."
echo "ci-train: committed $(git rev-parse --short HEAD) release: wms $version"
npm run --silent gen -- deploy --env "$env" --version "$version" --canary "$canary" --commit
