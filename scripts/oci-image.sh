# shellcheck shell=bash
# Container images without a registry or a builder: a one-layer OCI image archive (an OCI image
# layout in a tar, https://github.com/opencontainers/image-spec/blob/main/image-layout.md) that
# `ctr -n k8s.io images import <file>` loads into the node's containerd under <ref> (the index
# names it with the io.containerd.image.name annotation, which ctr's import uses as the name).
# Reproducible: fixed mtimes, numeric root ownership, sorted entries, an uncompressed layer.
#
#   oci_image <out.tar> <ref> <config-json> <src=dest>...
#     config-json  the image config's "config" object (User, Entrypoint, Cmd, Env, WorkingDir)
#     src=dest     a file of this machine and its absolute path in the image (mode kept)
#   shared_libs <binary>    the src=dest pairs of the shared libraries <binary> links (ldd),
#                           for an image of a dynamically linked binary (the loader included)
#
# Every image also gets /etc/passwd and /etc/group (root, nonroot 65532, nobody 65534) and a
# world-writable /tmp, as the distroless bases the upstream images use carry.

oci_image() {
  local out=$1 ref=$2 config=$3
  shift 3
  local work
  work=$(mktemp -d)
  local rootfs=$work/rootfs layout=$work/layout
  mkdir -p "$rootfs/etc" "$rootfs/tmp" "$layout/blobs/sha256"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n' >"$rootfs/etc/group"
  local pair src dest
  for pair in "$@"; do
    src=${pair%%=*}
    dest=${pair#*=}
    if [ ! -f "$src" ] || [ "${dest#/}" = "$dest" ]; then
      echo "oci_image $ref: '$pair' is not <existing file>=<absolute path in the image>" >&2
      rm -rf "$work"
      return 1
    fi
    mkdir -p "$rootfs$(dirname "$dest")"
    cp -L --preserve=mode "$src" "$rootfs$dest"
  done
  tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" .
  local layer layer_size
  layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$work/layer.tar")
  mv "$work/layer.tar" "$layout/blobs/sha256/$layer"
  local cfg=$work/config.json
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"scripts/oci-image.sh"}]}' \
    "$config" "$layer" >"$cfg"
  local cfg_digest cfg_size
  cfg_digest=$(sha256sum "$cfg" | cut -d' ' -f1)
  cfg_size=$(stat -c %s "$cfg")
  mv "$cfg" "$layout/blobs/sha256/$cfg_digest"
  local manifest=$work/manifest.json
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg_digest" "$cfg_size" "$layer" "$layer_size" >"$manifest"
  local m_digest m_size
  m_digest=$(sha256sum "$manifest" | cut -d' ' -f1)
  m_size=$(stat -c %s "$manifest")
  mv "$manifest" "$layout/blobs/sha256/$m_digest"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$m_digest" "$m_size" "$ref" "${ref##*:}" >"$layout/index.json"
  mkdir -p "$(dirname "$out")"
  tar -C "$layout" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$work"
  printf '%s %s sha256:%s (%s bytes)\n' "$out" "$ref" "$m_digest" "$(stat -c %s "$out")"
}

shared_libs() {
  # ldd prints "name => /path (addr)" for libraries and "/lib64/ld-linux... (addr)" for the loader
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    echo "$lib=$lib"
  done
}
