/** `publish` and `verify`: the CLI face of the model store (publish.ts, verify.ts, store/). */
import { join, relative } from "node:path";
import { loadCatalog, RELEASES_DIR } from "../catalog.ts";
import { deployedVersions, listEnvironments, loadEnvironment } from "../config.ts";
import { inputError, storeError } from "../errors.ts";
import { cardArtifacts } from "../model-card.ts";
import { publishRelease } from "../publish.ts";
import { type OutputFormat, report } from "../report.ts";
import { shortDigest, table } from "../table.ts";
import { type CardRef, verifyArtifacts } from "../verify.ts";

export async function runPublish(opts: {
  root: string;
  model: string;
  card: string;
  int8?: string | undefined;
  store?: string;
  keepLocal: boolean;
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const storeUri = opts.store ?? process.env.WMS_MODEL_STORE;
  if (!storeUri) {
    throw inputError([
      {
        field: "--store",
        message: "no model store given",
        hint: "pass --store s3://bucket[/prefix] (or file:///dir), or set WMS_MODEL_STORE; environments name theirs in modelStore.uri",
      },
    ]);
  }
  const r = await publishRelease({
    modelPath: opts.model,
    cardPath: opts.card,
    ...(opts.int8 ? { int8Path: opts.int8 } : {}),
    storeUri,
    releasesDir: join(opts.root, RELEASES_DIR),
    keepLocal: opts.keepLocal,
  });
  out(
    `${r.status === "published" ? "published" : "already published (identical bytes)"}: ${r.card.name} ${r.card.version} ` +
      `${shortDigest(r.card.artifact.sha256)} → ${r.card.artifact.uri}` +
      (r.card.variants?.int8
        ? `\nint8 ${shortDigest(r.card.variants.int8.sha256)} → ${r.card.variants.int8.uri}`
        : "") +
      `\ncatalog card: ${relative(opts.root, r.cardPath)}` +
      `\nnext: deploy it, e.g. npm run gen -- deploy --env dev --version ${r.card.version} --commit`,
  );
}

export async function runVerify(opts: {
  root: string;
  envs?: string[];
  deep: boolean;
  output?: OutputFormat;
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const catalog = loadCatalog(opts.root);
  const names = opts.envs?.length ? opts.envs : listEnvironments(opts.root);
  const problems = [];
  const rows: string[][] = [];
  const checked: Record<string, unknown>[] = [];
  for (const name of names) {
    const env = loadEnvironment(opts.root, name);
    const refs: CardRef[] = [];
    for (const { spec } of env.versionFiles) {
      for (const { version } of deployedVersions(spec)) {
        const entry = catalog.get(spec.model)?.get(version);
        if (entry) refs.push({ card: entry.card, file: entry.file });
        else
          problems.push({
            file: env.versionFiles[0]?.source.file,
            message: `${spec.model} ${version} has no catalog card`,
            hint: "publish it first",
          });
      }
    }
    const found = await verifyArtifacts(refs, {
      deep: opts.deep,
      s3: { region: env.config.modelStore.region },
    });
    problems.push(...found);
    for (const r of refs) {
      for (const a of cardArtifacts(r.card)) {
        const bad = found.some((p) => p.file === r.file && p.field?.startsWith(`${a.field}.`));
        rows.push([
          name,
          r.card.name,
          r.card.version,
          a.precision,
          shortDigest(a.artifact.sha256),
          a.artifact.uri,
          bad ? "PROBLEM" : "ok",
        ]);
        checked.push({
          env: name,
          model: r.card.name,
          version: r.card.version,
          precision: a.precision,
          sha256: a.artifact.sha256,
          uri: a.artifact.uri,
          ok: !bad,
        });
      }
    }
  }
  out(
    report(opts.output, "verify", { checked, problems }, () =>
      table(["ENV", "MODEL", "VERSION", "PRECISION", "DIGEST", "URI", "STORE"], rows),
    ),
  );
  if (problems.length) throw storeError(problems, `${problems.length} artifact problem(s)`);
}
