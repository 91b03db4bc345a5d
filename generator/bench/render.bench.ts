/**
 * Render benchmark: 3 environments × N versions (N = 10, 100, 1000) from generated fixtures.
 * Each N runs in its own process so peak RSS is that run's alone. Prints time per
 * version-environment (load + plan + render + schema validation + admission policies, and the atomic write
 * separately) and the scaling ratio between sizes. Usage: npm run bench:render [-- 10 100 1000]
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const ENVS = ["dev", "staging", "prod"];

function makeFixture(n: number): string {
  const root = mkdtempSync(join(tmpdir(), `wms-bench-${n}-`));
  const card = JSON.parse(
    readFileSync(join(REPO, "test/fixtures/basic/model/releases/wms/1.2.0/model-card.json"), "utf8"),
  );
  const versions = Array.from({ length: n }, (_, i) => `1.${Math.floor(i / 100)}.${i % 100}`);
  for (const v of versions) {
    const dir = join(root, "model/releases/wms", v);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "model-card.json"),
      JSON.stringify({
        ...card,
        version: v,
        artifact: { ...card.artifact, uri: `s3://wms-models/wms/${v}/model.onnx` },
      }),
    );
  }
  // the real admission policies, so the benchmark includes their CEL evaluation
  cpSync(join(REPO, "policies"), join(root, "policies"), { recursive: true });
  for (const env of ENVS) {
    const dir = join(root, "environments", env);
    mkdirSync(dir, { recursive: true });
    const src = readFileSync(join(REPO, "test/fixtures/basic/environments/dev/environment.yaml"), "utf8");
    writeFileSync(
      join(dir, "environment.yaml"),
      src.replace(/^name: dev/m, `name: ${env}`).replace(/namespacePrefix: dev/, `namespacePrefix: ${env}`),
    );
    const [live, canary, ...retain] = versions;
    writeFileSync(
      join(dir, "wms.yaml"),
      `model: wms\nlive: ${live}\n${canary ? `canary: { version: ${canary}, weight: 10 }\n` : ""}${retain.length ? `retain: [${retain.join(", ")}]\n` : ""}`,
    );
  }
  return root;
}

async function child(n: number) {
  const root = makeFixture(n);
  const { renderAll } = await import("../src/pipeline.ts");
  const { writeRendered } = await import("../src/output.ts");
  // warm-up on a small copy so one-off costs (module load, schema compile) are not billed per version
  const warm = makeFixture(3);
  renderAll(warm);
  const t0 = process.hrtime.bigint();
  const { envs } = renderAll(root);
  const t1 = process.hrtime.bigint();
  for (const e of envs) writeRendered(e.dir, e.files);
  const t2 = process.hrtime.bigint();
  const files = envs.reduce((s, e) => s + e.files.size, 0);
  const objects = envs.reduce((s, e) => s + e.objects.length, 0);
  rmSync(root, { recursive: true, force: true });
  rmSync(warm, { recursive: true, force: true });
  process.stdout.write(
    JSON.stringify({
      n,
      renderMs: Number(t1 - t0) / 1e6,
      writeMs: Number(t2 - t1) / 1e6,
      files,
      objects,
      maxRssKiB: process.resourceUsage().maxRSS,
    }),
  );
}

function parent(sizes: number[]) {
  console.log(
    `render benchmark: ${ENVS.length} environments × N versions; node ${process.version}; ${cpus().length}× ${cpus()[0]?.model ?? "?"}`,
  );
  const rows: { n: number; total: number; per: number; perWrite: number; rss: number; objects: number }[] =
    [];
  for (const n of sizes) {
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", fileURLToPath(import.meta.url), "--child", String(n)],
      {
        cwd: REPO,
        encoding: "utf8",
        maxBuffer: 1 << 20,
      },
    );
    const r = JSON.parse(out);
    const ve = ENVS.length * n;
    rows.push({
      n,
      total: r.renderMs,
      per: r.renderMs / ve,
      perWrite: r.writeMs / ve,
      rss: r.maxRssKiB / 1024,
      objects: r.objects,
    });
  }
  console.log(
    "N      version-envs  objects  render+validate total ms  render+validate ms/version-env  write ms/version-env  peak RSS MiB  ratio vs previous N (ms/version-env)",
  );
  rows.forEach((r, i) => {
    const prev = rows[i - 1];
    console.log(
      [
        String(r.n).padEnd(6),
        String(ENVS.length * r.n).padEnd(13),
        String(r.objects).padEnd(8),
        r.total.toFixed(0).padEnd(25),
        r.per.toFixed(3).padEnd(31),
        r.perWrite.toFixed(3).padEnd(21),
        r.rss.toFixed(0).padEnd(13),
        prev ? (r.per / prev.per).toFixed(2) : "-",
      ].join(" "),
    );
  });
  console.log(
    "Linear scaling ⇔ the per-version-env time stays flat (ratio ≈ 1). Target: < 5 ms per version-env.",
  );
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") await child(Number(argv[1]));
else parent(argv.length ? argv.map(Number) : [10, 100, 1000]);
