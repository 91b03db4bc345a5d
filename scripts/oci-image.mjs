#!/usr/bin/env node
// One-layer OCI image archive from a root filesystem directory, without a registry or a daemon
// (scripts/setup-cluster.sh's `images` step; the e2e imports the archive with
// `ctr -n k8s.io images import`).
//
//   node scripts/oci-image.mjs --rootfs DIR --name REPO:TAG --out FILE.tar
//        [--dockerfile FILE]  take ENV, WORKDIR, USER, EXPOSE, ENTRYPOINT and CMD from the
//                             Dockerfile's last stage (JSON-array forms only)
//        [--entrypoint JSON]  instead of the Dockerfile's
//
// Writes FILE.tar (an OCI image layout: oci-layout, index.json, blobs/sha256/...) and prints the
// manifest digest, which is also written to FILE.tar.digest. The layer tar is reproducible
// (sorted names, mtime 0, owner root): the same rootfs gives the same digest. index.json names the
// image twice (io.containerd.image.name): REPO:TAG and REPO@<manifest digest>, so that a pod spec
// naming the image by digest finds it in containerd's store.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    rootfs: { type: "string" },
    name: { type: "string" },
    out: { type: "string" },
    dockerfile: { type: "string" },
    entrypoint: { type: "string" },
  },
});
for (const k of ["rootfs", "name", "out"]) {
  if (!opts[k]) {
    console.error(`oci-image: --${k} is required`);
    process.exit(2);
  }
}

/** The runtime settings of a Dockerfile's last stage. */
function fromDockerfile(file) {
  const text = readFileSync(file, "utf8").replace(/\\\n/g, " ");
  const lines = text.split("\n").map((l) => l.trim());
  let last = 0;
  lines.forEach((l, i) => {
    if (/^FROM\s/i.test(l)) last = i;
  });
  const cfg = { Env: [], ExposedPorts: {} };
  const json = (l, what) => {
    try {
      const v = JSON.parse(l);
      if (Array.isArray(v)) return v;
    } catch {}
    throw new Error(`${file}: ${what} must be in JSON-array form: ${l}`);
  };
  for (const l of lines.slice(last + 1)) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const [, ins, rest] = m;
    if (ins === "ENV") {
      for (const kv of rest.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S+)/g) ?? [])
        cfg.Env.push(kv.replace(/="(.*)"$/, "=$1"));
    } else if (ins === "WORKDIR") cfg.WorkingDir = rest;
    else if (ins === "USER") cfg.User = rest;
    else if (ins === "EXPOSE") for (const p of rest.split(/\s+/)) cfg.ExposedPorts[p.includes("/") ? p : `${p}/tcp`] = {};
    else if (ins === "ENTRYPOINT") cfg.Entrypoint = json(rest, "ENTRYPOINT");
    else if (ins === "CMD") cfg.Cmd = json(rest, "CMD");
  }
  return cfg;
}

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

const work = mkdtempSync(join(tmpdir(), "oci-image-"));
try {
  const blobs = join(work, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const blob = (buf) => {
    const d = sha256(buf);
    writeFileSync(join(blobs, d), buf);
    return { digest: `sha256:${d}`, size: buf.length };
  };

  const layerTar = execFileSync(
    "tar",
    ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", opts.rootfs, "-cf", "-", "."],
    { maxBuffer: 4 * 1024 * 1024 * 1024 },
  );
  const layer = blob(layerTar);

  const runtime = opts.dockerfile ? fromDockerfile(opts.dockerfile) : { Env: [] };
  if (opts.entrypoint) runtime.Entrypoint = JSON.parse(opts.entrypoint);
  if (!runtime.Env.some((e) => e.startsWith("PATH=")))
    runtime.Env.unshift("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        created: "1970-01-01T00:00:00Z",
        config: runtime,
        rootfs: { type: "layers", diff_ids: [layer.digest] },
        history: [{ created: "1970-01-01T00:00:00Z", created_by: `scripts/oci-image.mjs ${opts.name}` }],
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
      }),
    ),
  );
  const repo = opts.name.replace(/:[^:/]+$/, "");
  const entry = (name, ref) => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...manifest,
    platform: { architecture: "amd64", os: "linux" },
    annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": ref },
  });
  const tag = opts.name.slice(repo.length + 1);
  writeFileSync(join(work, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(work, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [entry(opts.name, tag), entry(`${repo}@${manifest.digest}`, tag)],
    }),
  );
  const tmpOut = `${opts.out}.tmp`;
  execFileSync("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-C", work, "-cf", tmpOut, "."]);
  renameSync(tmpOut, opts.out);
  writeFileSync(`${opts.out}.digest`, `${manifest.digest}\n`);
  console.log(`${repo}@${manifest.digest} (${(layer.size / 1048576).toFixed(1)} MiB)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
