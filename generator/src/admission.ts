/**
 * Evaluate our ValidatingAdmissionPolicies (policies/<name>/policy.yaml) the way the API server
 * would, with their own CEL, against objects before they reach a cluster: match constraints
 * (resource rules + namespace selector on matchLabels), match conditions, variables,
 * validations. Render runs this on every rendered object, so output a cluster would refuse
 * never gets committed. Scope: CREATE; request.namespace/name/kind/operation; no params, no
 * authorizer, matchLabels selectors only.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { celEnv, parse, plan } from "@bufbuild/cel";
import { parseAllDocuments } from "yaml";
import type { Problem } from "./errors.ts";
import { readInputFile } from "./repo-file.ts";
import { lineAtOffset, yamlData } from "./yaml-source.ts";

interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  operations: string[];
  resources: string[];
}

interface Vap {
  metadata: { name: string };
  spec: {
    matchConstraints: {
      resourceRules: ResourceRule[];
      namespaceSelector?: { matchLabels?: Record<string, string> };
    };
    matchConditions?: { name: string; expression: string }[];
    variables?: { name: string; expression: string }[];
    validations: { expression: string; message?: string; reason?: string }[];
  };
}

type Program = (ctx: Record<string, unknown>) => unknown;

export interface Policy {
  name: string;
  file: string;
  vap: Vap;
  conditions: { name: string; run: Program }[];
  variables: { name: string; run: Program }[];
  validations: { run: Program; message: string }[];
}

export interface AdmissionInput {
  object: Record<string, unknown>;
  /** labels of the object's namespace (for a Namespace: its own labels) */
  namespaceLabels: Record<string, string>;
}

const env = celEnv();
const compile = (expr: string): Program => {
  const p = plan(env, parse(expr));
  return (ctx) => p(ctx as never);
};

export function loadPolicies(root: string): Policy[] {
  const dir = join(root, "policies");
  if (!existsSync(dir)) return [];
  const out: Policy[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, "policy.yaml");
    if (!existsSync(file)) continue;
    const shown = `policies/${name}/policy.yaml`;
    const text = readInputFile(file, { root, shown });
    for (const doc of parseAllDocuments(text)) {
      const o = yamlData(doc, shown, lineAtOffset(text)) as { kind?: string } & Vap;
      if (o.kind !== "ValidatingAdmissionPolicy") continue;
      out.push({
        name: o.metadata.name,
        file: shown,
        vap: o,
        conditions: (o.spec.matchConditions ?? []).map((c) => ({ name: c.name, run: compile(c.expression) })),
        variables: (o.spec.variables ?? []).map((v) => ({ name: v.name, run: compile(v.expression) })),
        validations: o.spec.validations.map((v) => ({
          run: compile(v.expression),
          message: v.message ?? v.expression,
        })),
      });
    }
  }
  return out;
}

/** Kubernetes' JSON → CEL: objects are maps, integral numbers are ints (as the API server decodes them). */
function toCel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === "object") return new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return v;
}

/** kind → resource (plural, lower case), enough for the kinds we render. */
const resourceOf = (kind: string) =>
  (kind.endsWith("s")
    ? `${kind}es`
    : kind.endsWith("y")
      ? `${kind.slice(0, -1)}ies`
      : `${kind}s`
  ).toLowerCase();

function matches(policy: Policy, input: AdmissionInput): boolean {
  const { object } = input;
  const [group, version] = String(object.apiVersion).includes("/")
    ? (String(object.apiVersion).split("/") as [string, string])
    : ["", String(object.apiVersion)];
  const resource = resourceOf(String(object.kind));
  const { resourceRules, namespaceSelector } = policy.vap.spec.matchConstraints;
  const any = (list: string[], v: string) => list.includes("*") || list.includes(v);
  const ruleHit = resourceRules.some(
    (r) =>
      any(r.apiGroups, group) &&
      any(r.apiVersions, version) &&
      any(r.operations, "CREATE") &&
      any(r.resources, resource),
  );
  if (!ruleHit) return false;
  const wanted = namespaceSelector?.matchLabels ?? {};
  return Object.entries(wanted).every(([k, v]) => input.namespaceLabels[k] === v);
}

/**
 * The admission request's fields our policies read. Its namespace is the object's, or, for a
 * Namespace, its own name (the API server's RequestInfo names a namespace after itself;
 * policies on Namespaces read object.metadata.name anyway).
 */
function requestOf(input: AdmissionInput): Map<string, unknown> {
  const meta = (input.object.metadata ?? {}) as { name?: string; namespace?: string };
  const apiVersion = String(input.object.apiVersion);
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const namespace = input.object.kind === "Namespace" ? (meta.name ?? "") : (meta.namespace ?? "");
  return new Map<string, unknown>([
    ["operation", "CREATE"],
    ["namespace", namespace],
    ["name", meta.name ?? ""],
    [
      "kind",
      new Map([
        ["group", group],
        ["version", version],
        ["kind", String(input.object.kind)],
      ]),
    ],
  ]);
}

/** Deny messages for one object: empty when every matching policy admits it. */
export function admit(policies: Policy[], input: AdmissionInput): { policy: string; message: string }[] {
  const denials: { policy: string; message: string }[] = [];
  for (const policy of policies) {
    if (!matches(policy, input)) continue;
    const object = toCel(input.object);
    const ctx: Record<string, unknown> = { object, oldObject: null, request: requestOf(input) };
    if (!policy.conditions.every((c) => c.run(ctx) === true)) continue;
    const variables = new Map<string, unknown>();
    ctx.variables = variables;
    for (const v of policy.variables) variables.set(v.name, v.run(ctx));
    for (const v of policy.validations) {
      const r = v.run(ctx);
      // A CEL error (e.g. a missing field) denies, as failurePolicy: Fail does.
      if (r !== true)
        denials.push({
          policy: policy.name,
          message: r === false ? v.message : `${v.message} (CEL error: ${String(r)})`,
        });
    }
  }
  return denials;
}

/** Admission problems for rendered objects; namespace labels come from the rendered Namespaces. */
export function admissionProblems(
  policies: Policy[],
  objects: {
    file: string;
    object: Record<string, unknown> & {
      kind: string;
      metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    };
  }[],
): Problem[] {
  const nsLabels = new Map<string, Record<string, string>>();
  for (const { object } of objects)
    if (object.kind === "Namespace") nsLabels.set(object.metadata.name, object.metadata.labels ?? {});
  const problems: Problem[] = [];
  for (const { file, object } of objects) {
    const labels =
      object.kind === "Namespace"
        ? (object.metadata.labels ?? {})
        : (nsLabels.get(object.metadata.namespace ?? "") ?? {});
    for (const d of admit(policies, { object, namespaceLabels: labels })) {
      problems.push({
        file,
        field: `${object.kind}/${object.metadata.name}`,
        message: `denied by admission policy ${d.policy}: ${d.message}`,
        hint: `see policies/ (${d.policy})`,
      });
    }
  }
  return problems;
}
