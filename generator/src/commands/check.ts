/**
 * `check --base <ref>`: the delivery rules (safety.ts) on a change, e.g. a pull request
 * against its base branch. For every environment and model, the version file at <ref> is
 * compared with the working tree: traffic may move only to versions <ref> already deployed,
 * and a version file may not be removed or emptied without --allow-empty <env>. CI runs it.
 */
import { basename } from "node:path";
import { listEnvironments, loadEnvironment, type VersionFile } from "../config.ts";
import { inputError, type Problem, WmsError } from "../errors.ts";
import { fileAt, filesAt, requireGitRepo, resolveCommit, short } from "../git.ts";
import { type OutputFormat, report } from "../report.ts";
import { allowEmptyHint, EMPTYING_TEXT, emptying, notYetDeployed } from "../safety.ts";
import { table } from "../table.ts";
import { describeSpec, parseSpec } from "./change.ts";

export async function runCheck(opts: {
  root: string;
  base: string;
  allowEmpty?: string[];
  output?: OutputFormat;
  out?: (l: string) => void;
}): Promise<void> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  await requireGitRepo(opts.root);
  const baseSha = await resolveCommit(opts.root, opts.base);
  if (!baseSha) {
    throw inputError([
      {
        field: "--base",
        message: `unknown revision "${opts.base}"`,
        hint: "pass a commit or branch git knows (in CI: fetch the base branch, e.g. actions/checkout with fetch-depth: 0)",
      },
    ]);
  }
  const baseName = baseSha.startsWith(opts.base) ? short(baseSha) : `${opts.base} (${short(baseSha)})`;
  // base: every environments/<env>/<model>.yaml at <ref>
  const before = new Map<string, VersionFile | undefined>();
  for (const f of await filesAt(opts.root, opts.base, "environments")) {
    const m = /^environments\/([^/]+)\/([^/]+)\.ya?ml$/.exec(f);
    if (!m || m[2] === "environment") continue;
    let spec: VersionFile | undefined;
    try {
      spec = parseSpec(await fileAt(opts.root, opts.base, f), `${opts.base}:${f}`);
    } catch {
      spec = undefined; // an unparsable base file deploys nothing we can rely on
    }
    before.set(f, spec);
  }
  // head: the working tree, validated as render would
  const after = new Map<
    string,
    { spec: VersionFile; lineOf: (p: (string | number)[]) => number | undefined }
  >();
  const problems: Problem[] = [];
  const unreadable = new Set<string>();
  for (const env of listEnvironments(opts.root)) {
    try {
      for (const { spec, source } of loadEnvironment(opts.root, env).versionFiles) {
        after.set(source.file, { spec, lineOf: source.lineOf });
      }
    } catch (e) {
      if (!(e instanceof WmsError)) throw e;
      problems.push(...e.problems); // reported as they are; not compared
      unreadable.add(env);
    }
  }
  const rows: string[][] = [];
  for (const file of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const env = file.split("/")[1] ?? "";
    if (unreadable.has(env)) continue;
    const was = before.get(file);
    const now = after.get(file);
    let verdict = "ok";
    for (const v of notYetDeployed(was, now?.spec)) {
      const field = now?.spec.live === v ? "live" : "canary.version";
      verdict = "UNSAFE SWITCH";
      problems.push({
        file,
        line: now?.lineOf(field === "live" ? ["live"] : ["canary", "version"]),
        field,
        message: `switches traffic to ${v}, which ${baseName} does not deploy; its Application may not be up when the route changes`,
        hint: `first merge a change that only adds ${v} to retain (npm run gen -- deploy … stages it), wait until it is Healthy, then switch in a second change`,
      });
    }
    const empties = emptying(was, now?.spec);
    if (empties && !opts.allowEmpty?.includes(env)) {
      verdict = "EMPTIES";
      problems.push({
        file,
        message: `${now ? "" : "is removed: "}${EMPTYING_TEXT[empties]} of ${basename(file, ".yaml")} in ${env} (base: ${describeSpec(was)})`,
        hint: allowEmptyHint(env),
      });
    }
    rows.push([file, describeSpec(was), now ? describeSpec(now.spec) : "(removed)", verdict]);
  }
  const files = rows.map(([file, base, now, check]) => ({ file, base, now, check }));
  out(
    report(opts.output, "check", { base: opts.base, baseSha, files, problems }, () =>
      table(["VERSION FILE", `AT ${opts.base}`, "NOW", "CHECK"], rows),
    ),
  );
  if (problems.length) throw inputError(problems, `${problems.length} unsafe change(s) against ${opts.base}`);
  if (!opts.output || opts.output === "table")
    out(`\ncheck --base ${opts.base}: every change is safe to sync.`);
}
