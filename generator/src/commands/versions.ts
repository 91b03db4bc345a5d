/** `versions`: the release catalog as a table, with where each version runs. */
import { compareVersions, loadCatalog } from "../catalog.ts";
import { deployedVersions, listEnvironments, loadEnvironment } from "../config.ts";
import { fmtMetric, shortDigest, table } from "../table.ts";

export function runVersions(opts: { root: string; model?: string; out?: (l: string) => void }): void {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const catalog = loadCatalog(opts.root);
  const where = new Map<string, string[]>();
  for (const name of listEnvironments(opts.root)) {
    for (const { spec } of loadEnvironment(opts.root, name).versionFiles) {
      for (const { version, role } of deployedVersions(spec)) {
        const key = `${spec.model}@${version}`;
        where.set(key, [...(where.get(key) ?? []), `${name}:${role}`]);
      }
    }
  }
  const rows: string[][] = [];
  for (const [model, versions] of [...catalog].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (opts.model && model !== opts.model) continue;
    for (const [version, { card, hasLocalModel }] of [...versions].sort(([a], [b]) =>
      compareVersions(b, a),
    )) {
      rows.push([
        model,
        version + (card.example ? " (example)" : ""),
        card.createdAt.slice(0, 10),
        `${fmtMetric(card.metrics.val.iou)}/${fmtMetric(card.metrics.val.dice)}`,
        `${fmtMetric(card.metrics.test.iou)}/${fmtMetric(card.metrics.test.dice)}`,
        card.variants?.int8 ? fmtMetric(card.variants.int8.metrics.test.iou) : "-",
        `${card.io.input.preprocessing.resize.width}x${card.io.input.preprocessing.resize.height}`,
        `${(card.artifact.bytes / 2 ** 20).toFixed(1)} MiB${hasLocalModel ? " (local)" : ""}`,
        shortDigest(card.artifact.sha256),
        where.get(`${model}@${version}`)?.join(" ") ?? "-",
      ]);
    }
  }
  out(
    table(
      [
        "MODEL",
        "VERSION",
        "CREATED",
        "VAL IOU/DICE",
        "TEST IOU/DICE",
        "INT8 TEST IOU",
        "INPUT",
        "SIZE",
        "DIGEST",
        "RUNS IN",
      ],
      rows,
    ),
  );
}
