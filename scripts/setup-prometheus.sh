#!/usr/bin/env bash
# Builds promtool and prometheus of the Prometheus release kube-prometheus-stack deploys (as
# recorded in generator/schemas/k8s/index.json, `prometheus`, by generator/tools/k8s-schemas/vendor.ts (npm run schemas:vendor)
# from the chart pin in apps/) from the Go module github.com/prometheus/prometheus@v0.3XX.Y
# (= Prometheus v3.XX.Y), into .tools/bin (ignored by git). Idempotent: a binary that already
# reports the wanted version is kept. Go's module and build caches are reused; nothing is
# downloaded when they hold the module already.
#
# The server is built without the web UI assets (no `builtinassets` build tag: building them
# needs npm and the UI sources); the HTTP API the tests use is complete without them.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.tools/bin
INDEX=generator/schemas/k8s/index.json
read -r VERSION MODULE_VERSION < <(node -e '
  const p = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).prometheus;
  if (!p) { console.error("no prometheus in " + process.argv[1] + ": pin kube-prometheus-stack in apps/ and rerun generator/tools/k8s-schemas/vendor.ts (npm run schemas:vendor)"); process.exit(1); }
  console.log(p.version, p.moduleVersion);
' "$INDEX")
PLAIN=${VERSION#v}

have() { [ -x "$BIN/$1" ] && "$BIN/$1" --version 2>&1 | head -1 | grep -q "version $PLAIN "; }
if have promtool && have prometheus; then
  echo "== prometheus $VERSION: promtool and prometheus already in $BIN"
  exit 0
fi
command -v go >/dev/null || { echo "go not found: install Go (the module needs the go line of its go.mod)" >&2; exit 1; }

echo "== prometheus $VERSION: go mod download github.com/prometheus/prometheus@$MODULE_VERSION"
DIR=$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod GOWORK=off go mod download -json "github.com/prometheus/prometheus@$MODULE_VERSION" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(!j.Dir){console.error(j.Error);process.exit(1)}console.log(j.Dir)})')
mkdir -p "$BIN"
OUT=$(pwd)/$BIN
LDFLAGS="-X github.com/prometheus/common/version.Version=$PLAIN -X github.com/prometheus/common/version.Revision=$MODULE_VERSION -X github.com/prometheus/common/version.Branch=module -X github.com/prometheus/common/version.BuildUser=setup-prometheus.sh"
for cmd in promtool prometheus; do
  have "$cmd" && { echo "== $cmd $VERSION already built"; continue; }
  start=$(date +%s)
  # The module's go.work names folders its zip does not carry: build the module alone.
  (cd "$DIR" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/$cmd" "./cmd/$cmd")
  echo "== built $BIN/$cmd ($VERSION) in $(( $(date +%s) - start )) s"
done
"$BIN/promtool" --version | head -1
