/** `versions`: the release catalog as a table, with where each version runs. */

import { closest } from "../args.ts";
import { compareVersions, loadCatalog } from "../catalog.ts";
import { deployedVersions, listEnvironments, loadEnvironment } from "../config.ts";
import { inputError } from "../errors.ts";
import { type OutputFormat, report } from "../report.ts";
import { fmtMetric, shortDigest, table } from "../table.ts";

export function runVersions(opts: {
  root: string;
  model?: string;
  output?: OutputFormat;
  out?: (l: string) => void;
}): void {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const catalog = loadCatalog(opts.root);
  if (opts.model && !catalog.has(opts.model)) {
    const known = [...catalog.keys()].sort();
    const guess = closest(opts.model, known);
    throw inputError([
      {
        field: "--model",
        message: `no model "${opts.model}" in the release catalog${guess ? `; did you mean "${guess}"?` : ""}`,
        hint: known.length
          ? `one of: ${known.join(", ")} (model/releases/<model>/)`
          : "publish a model first (npm run gen -- publish)",
      },
    ]);
  }
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
  const docs: Record<string, unknown>[] = [];
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
      docs.push({
        model,
        version,
        example: Boolean(card.example),
        created: card.createdAt,
        val: { iou: card.metrics.val.iou ?? null, dice: card.metrics.val.dice ?? null },
        test: { iou: card.metrics.test.iou ?? null, dice: card.metrics.test.dice ?? null },
        int8TestIou: card.variants?.int8?.metrics.test.iou ?? null,
        input: {
          width: card.io.input.preprocessing.resize.width,
          height: card.io.input.preprocessing.resize.height,
        },
        bytes: card.artifact.bytes,
        local: hasLocalModel,
        sha256: card.artifact.sha256,
        runsIn: (where.get(`${model}@${version}`) ?? []).map((w) => {
          const [env, role] = w.split(":");
          return { env, role };
        }),
      });
    }
  }
  out(
    report(opts.output, "versions", { versions: docs }, () =>
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
    ),
  );
}
