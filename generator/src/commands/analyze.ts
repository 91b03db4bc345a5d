/**
 * `analyze`: judge one environment's candidate (its canary, else its shadow) against live from
 * Prometheus, print the table, exit 0 pass / 1 fail / 3 inconclusive; with --commit apply
 * the verdict as a deploy commit (pass: next step or live; fail: candidate removed), the
 * table in its message. The rules are in analysis.ts; thresholds in environment.yaml.
 */

import {
  afterVerdict,
  candidateOf,
  judge,
  type Measured,
  type Query,
  queries,
  renderTable,
} from "../analysis.ts";
import { analysisThresholds, loadEnvironment } from "../config.ts";
import { inputError } from "../errors.ts";
import { deployTrailer } from "../history.ts";
import { queryNumber } from "../prometheus.ts";
import { routingNamespace, versionNamespace } from "../render/names.ts";
import { type OutputFormat, report } from "../report.ts";
import { rewriteVersionFile } from "../version-edit.ts";
import { applyText, type ChangeContext, commitHint, parseSpec, readState } from "./change.ts";

/** kube-prometheus-stack's Prometheus Service, as seen from inside the cluster (a CronJob) */
export const IN_CLUSTER_PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090";

export interface AnalyzeOptions {
  root: string;
  env: string;
  model: string;
  prometheus: string;
  window: string;
  commit: boolean;
  output?: OutputFormat;
  out?: (l: string) => void;
}

export async function runAnalyze(opts: AnalyzeOptions): Promise<number> {
  const print = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  // with --output json|yaml stdout carries the document alone; what --commit says goes to stderr
  const out = opts.output && opts.output !== "table" ? (l: string) => process.stderr.write(`${l}\n`) : print;
  const env = loadEnvironment(opts.root, opts.env);
  const thresholds = analysisThresholds(env.config);
  const ctx: ChangeContext = {
    root: opts.root,
    env: opts.env,
    model: opts.model,
    commit: opts.commit,
    wait: false,
    timeoutS: 0,
    out,
  };
  const state = await readState(ctx);
  const spec = parseSpec(state.text, state.file);
  const candidate = spec && candidateOf(spec);
  if (!spec?.live || !candidate) {
    throw inputError([
      {
        file: state.file,
        message: "has no candidate to analyze: neither canary nor shadow (next to live)",
        hint: "deploy one first, e.g. add shadow: { version: <x.y.z> } and render",
      },
    ]);
  }
  const q = queries({
    env: opts.env,
    model: opts.model,
    live: spec.live,
    candidate,
    window: opts.window,
    candidateNamespace: versionNamespace(env.config, opts.model, candidate.version),
    routingNamespace: routingNamespace(env.config, opts.model),
  });
  const measured = Object.fromEntries(
    await Promise.all(
      (Object.keys(q) as Query[]).map(async (k) => [k, await queryNumber(opts.prometheus, q[k])] as const),
    ),
  ) as Measured;
  const { verdict, rows } = judge(candidate, measured, thresholds);
  const table = renderTable(rows);
  const title = `${opts.env} ${opts.model}: ${candidate.kind} ${candidate.version}${candidate.weight ? ` @${candidate.weight}%` : ""} vs live ${spec.live}, last ${opts.window}`;
  const doc = {
    env: opts.env,
    model: opts.model,
    candidate,
    live: spec.live,
    window: opts.window,
    rows,
    verdict,
  };
  print(report(opts.output, "analyze", doc, () => `${title}\n\n${table}\n\nverdict: ${verdict}`));
  const code = { pass: 0, fail: 1, inconclusive: 3 }[verdict];
  if (!opts.commit || verdict === "inconclusive") {
    if (opts.commit) out("inconclusive: nothing committed");
    return code;
  }
  const next = afterVerdict(spec, candidate, verdict, thresholds.steps);
  const text = rewriteVersionFile(state.text, next.spec, state.file);
  const subject = `analyze(${opts.env}): ${opts.model} ${verdict}: ${next.action}`;
  const trailers = [`${title}\n\n${table}\n`, deployTrailer(opts.env)];
  const sha = await applyText(ctx, state, text, subject, trailers);
  out(sha ? `committed ${sha.slice(0, 12)}: ${subject}` : commitHint(state, subject, trailers));
  return code;
}
