#!/usr/bin/env bash
# Train on a GPU machine that has no copy of the dataset, from a pack made here with
#   python tools/remote_cache.py pack data/cache/dataset_<W>x<H>_....npz pack.npz
# Usage: tools/gpu_train.sh <pack.npz> <run dir> [--set key=value ...]
# Only training runs there (needs torch, numpy, pillow, pyyaml, tqdm); bring <run dir>/best.pt
# back and evaluate/export here on the real pipeline:
#   python -m wms_training evaluate --run-dir <run dir> ... && python -m wms_training export ...
set -euo pipefail
pack=$(realpath "$1") run=$2
shift 2
cd "$(dirname "$0")/.."
cache=${TMPDIR:-/tmp}/wms_remote_cache.npz
python3 tools/remote_cache.py unpack "$pack" "$cache"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
PYTHONUNBUFFERED=1 python3 -m wms_training train --run-dir "$run" --no-finalize \
  --set data.cache_file="$cache" --set train.device=cuda "$@"
