/**
 * terraform/ checked offline, as far as that goes without a Terraform binary or an AWS account:
 * every .tf and .tfvars file parses; modules follow the terraform-aws-modules conventions (the
 * four files and a README, typed and described variables, pinned providers); stacks keep their
 * state in S3 and read each other's state where it lives; Terraform deploys no workloads; the
 * tfvars agree with what environments/, apps/, .dvc/ and the workflows already name; and
 * checkov reports no failed check, every skip carrying its reason.
 *
 * HCL is parsed with the parser checkov itself uses (bc-python-hcl2 in .venv-checkov), so
 * that both checks see the same files the same way. Neither is Terraform: `terraform validate`
 * (provider schemas) and `plan` need provider downloads and an account (terraform/README.md).
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { REPO_ROOT } from "./support/cli.ts";

const TF_ROOT = join(REPO_ROOT, "terraform");
const CHECKOV_VENV = join(REPO_ROOT, ".venv-checkov");
const PYTHON = join(CHECKOV_VENV, "bin/python");
const CHECKOV = join(CHECKOV_VENV, "bin/checkov");
const SETUP_HINT =
  "checkov is not installed: run `bash scripts/setup.sh` (it creates .venv-checkov with checkov, " +
  "kept apart from .venv because of its pins)";

const MODULES = [
  "network",
  "eks",
  "storage",
  "ecr",
  "rds",
  "iam",
  "irsa-role",
  "cluster-env",
  "logs-kms-key",
];
const STACKS = ["shared", "dev", "staging", "prod"];
const ENVIRONMENTS = ["dev", "staging", "prod"] as const;

// python-hcl2 wraps every attribute value in a one-element list and every block in a list.
type Hcl = Record<string, unknown>;
type Parsed = Record<string, Hcl | { __error__: string }>;

/** Unwrap python-hcl2's one-element lists. */
function one(v: unknown): unknown {
  return Array.isArray(v) && v.length === 1 ? one(v[0]) : v;
}

/** Blocks of one type in a parsed file, as [label, body] (variable "x" { … } → ["x", {…}]). */
function labelled(file: Hcl | undefined, type: string): [string, Hcl][] {
  const blocks = (file?.[type] ?? []) as Record<string, Hcl>[];
  return blocks.flatMap((b) => Object.entries(b));
}

/** Two-label blocks (data "terraform_remote_state" "hub" { … }) of one kind, as [name, body]. */
function typed(file: Hcl | undefined, block: string, type: string): [string, Hcl][] {
  const blocks = (file?.[block] ?? []) as Record<string, Record<string, Hcl>>[];
  return blocks.flatMap((b) => Object.entries(b[type] ?? {}));
}

function str(v: unknown): string {
  const u = one(v);
  return typeof u === "string" ? u : JSON.stringify(u);
}

/** Parse every .tf and .tfvars file under terraform/ in one Python process. */
function parseAll(): Parsed {
  const script = `
import json, os, sys, hcl2
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if not x.startswith("."))
    for f in sorted(files):
        if f.endswith((".tf", ".tfvars")):
            p = os.path.join(d, f)
            try:
                with open(p) as fh:
                    out[os.path.relpath(p, root)] = hcl2.load(fh)
            except Exception as e:
                out[os.path.relpath(p, root)] = {"__error__": f"{type(e).__name__}: {e}"}
json.dump(out, sys.stdout)
`;
  const r = spawnSync(PYTHON, ["-c", script, TF_ROOT], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`parsing terraform/ failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Parsed;
}

function checkovInstalled(): boolean {
  return existsSync(CHECKOV) && existsSync(PYTHON);
}

let parsed: Parsed = {};
const file = (path: string) => parsed[path] as Hcl | undefined;
/** The parsed files under one folder of terraform/ (those that parsed). */
const hclFiles = (dir: string): [string, Hcl][] =>
  Object.entries(parsed).flatMap(([p, d]) =>
    p.startsWith(`${dir}/`) && !("__error__" in d) ? [[p, d as Hcl]] : [],
  );

beforeAll(() => {
  // Fail, don't skip: a missing tool must not turn into a green run that checked nothing.
  if (!checkovInstalled()) throw new Error(SETUP_HINT);
  parsed = parseAll();
});

describe("terraform/ conventions", () => {
  it("every .tf and .tfvars file parses", () => {
    const errors = Object.entries(parsed).flatMap(([p, d]) =>
      "__error__" in d ? [`${p}: ${d.__error__}`] : [],
    );
    expect(errors).toEqual([]);
    expect(Object.keys(parsed).length).toBeGreaterThan(40);
  });

  it("every module has main.tf, variables.tf, outputs.tf, versions.tf and a README", () => {
    const found = readdirSync(join(TF_ROOT, "modules")).sort();
    expect(found).toEqual([...MODULES].sort());
    const missing = MODULES.flatMap((m) =>
      ["main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"]
        .filter((f) => !existsSync(join(TF_ROOT, "modules", m, f)))
        .map((f) => `modules/${m}/${f}`),
    );
    expect(missing).toEqual([]);
  });

  it("every variable has a type and a description, every output a description", () => {
    const problems: string[] = [];
    for (const [path, d] of Object.entries(parsed)) {
      if (!path.endsWith(".tf") || "__error__" in d) continue;
      for (const [name, body] of labelled(d, "variable")) {
        if (!("type" in body)) problems.push(`${path}: variable "${name}" has no type`);
        if (!str(body.description).trim()) problems.push(`${path}: variable "${name}" has no description`);
      }
      for (const [name, body] of labelled(d, "output")) {
        if (!str(body.description).trim()) problems.push(`${path}: output "${name}" has no description`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("variables live in variables.tf and outputs in outputs.tf", () => {
    const misplaced = Object.entries(parsed).flatMap(([path, d]) =>
      "__error__" in d
        ? []
        : [
            ...(labelled(d, "variable").length && !path.endsWith("variables.tf")
              ? [`${path}: variable`]
              : []),
            ...(labelled(d, "output").length && !path.endsWith("outputs.tf") ? [`${path}: output`] : []),
          ],
    );
    expect(misplaced).toEqual([]);
  });

  it("Terraform and providers are pinned: required_version everywhere, each provider with a source and a bounded version", () => {
    const problems: string[] = [];
    const dirs = [...MODULES.map((m) => `modules/${m}`), ...STACKS.map((s) => `envs/${s}`)];
    for (const dir of dirs) {
      const terraform = one(file(`${dir}/versions.tf`)?.terraform) as Hcl | undefined;
      if (!terraform) {
        problems.push(`${dir}/versions.tf: no terraform block`);
        continue;
      }
      if (!/^>=\s*1\.\d+/.test(str(terraform.required_version)))
        problems.push(`${dir}: required_version must be ">= 1.x", got ${str(terraform.required_version)}`);
      const providers = one(terraform.required_providers) as Record<string, unknown> | undefined;
      if (!providers || Object.keys(providers).length === 0) problems.push(`${dir}: no required_providers`);
      for (const [name, spec] of Object.entries(providers ?? {})) {
        const { source, version } = (one(spec) ?? {}) as { source?: string; version?: string };
        if (!source) problems.push(`${dir}: provider ${name} has no source`);
        // "~> 6.0" or ">= 6.0, < 7.0": a new major version never arrives unreviewed.
        if (!version || !(/~>/.test(version) || /</.test(version)))
          problems.push(`${dir}: provider ${name} version must have an upper bound, got ${version}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("module sources are local paths that exist (nothing to download from a registry)", () => {
    const problems: string[] = [];
    for (const [path, d] of Object.entries(parsed)) {
      if ("__error__" in d) continue;
      for (const [name, body] of labelled(d, "module")) {
        const source = str(body.source);
        const dir = join(TF_ROOT, path, "..", source);
        if (!source.startsWith("../") || !existsSync(join(dir, "main.tf")))
          problems.push(`${path}: module "${name}" source ${source} is not a local module`);
      }
    }
    expect(problems).toEqual([]);
  });

  // What `terraform validate` would say about the wiring, without providers: module calls match
  // the modules' variables and outputs, references name something declared, tfvars set
  // exactly the stack's variables.
  it("module calls, var./local./module. references and tfvars match what is declared", () => {
    const problems: string[] = [];
    const dirs = [...MODULES.map((m) => `modules/${m}`), ...STACKS.map((s) => `envs/${s}`)];
    const declared = (dir: string, type: "variable" | "output" | "locals") => {
      const files = hclFiles(dir).filter(([p]) => p.endsWith(".tf"));
      if (type === "locals")
        return new Set(files.flatMap(([, d]) => ((d.locals ?? []) as Hcl[]).flatMap((b) => Object.keys(b))));
      return new Map(files.flatMap(([, d]) => labelled(d, type)));
    };
    for (const dir of dirs) {
      const variables = declared(dir, "variable") as Map<string, Hcl>;
      const locals = declared(dir, "locals") as Set<string>;
      const text = readdirSync(join(TF_ROOT, dir))
        .filter((f) => f.endsWith(".tf"))
        .map((f) => readFileSync(join(TF_ROOT, dir, f), "utf8").replace(/^\s*#.*$/gm, ""))
        // moved blocks name addresses (module.a.aws_x.y), not references
        .map((t) => t.replace(/^moved\s*\{[\s\S]*?^\}/gm, ""))
        .join("\n");
      for (const [, name] of text.matchAll(/\bvar\.([a-z0-9_]+)/g))
        if (!variables.has(name as string)) problems.push(`${dir}: var.${name} is not declared`);
      for (const [, name] of text.matchAll(/\blocal\.([a-z0-9_]+)/g))
        if (!locals.has(name as string)) problems.push(`${dir}: local.${name} is not declared`);

      const calls = hclFiles(dir).flatMap(([, d]) => labelled(d, "module"));
      const callee = new Map(
        calls.map(([name, body]) => [name, join(dir, str(body.source)).replace(/\\/g, "/")]),
      );
      for (const [name, body] of calls) {
        const target = callee.get(name) as string;
        const vars = declared(target, "variable") as Map<string, Hcl>;
        const args = Object.keys(body).filter(
          (k) =>
            !["source", "version", "count", "for_each", "depends_on", "providers"].includes(k) &&
            !k.startsWith("__"),
        );
        for (const a of args)
          if (!vars.has(a)) problems.push(`${dir}: module "${name}" has no variable ${a}`);
        for (const [v, spec] of vars)
          if (!("default" in spec) && !args.includes(v)) problems.push(`${dir}: module "${name}" needs ${v}`);
      }
      for (const [, name, output] of text.matchAll(/\bmodule\.([a-z0-9_]+)\.([a-z0-9_]+)/g)) {
        const target = callee.get(name as string);
        if (!target) problems.push(`${dir}: module.${name} is not called`);
        else if (!(declared(target, "output") as Map<string, Hcl>).has(output as string))
          problems.push(`${dir}: module.${name} has no output ${output}`);
      }

      const tfvars = file(`${dir}/terraform.tfvars`);
      if (dir.startsWith("envs/")) {
        if (!tfvars) problems.push(`${dir}: no terraform.tfvars`);
        for (const k of Object.keys(tfvars ?? {}))
          if (!variables.has(k)) problems.push(`${dir}/terraform.tfvars: ${k} is not a variable`);
        for (const [v, spec] of variables)
          if (!("default" in spec) && !(v in (tfvars ?? {})))
            problems.push(`${dir}/terraform.tfvars: ${v} is not set`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("staging and prod are the same code: only the environment name and the tfvars differ", () => {
    const files = (env: string) => readdirSync(join(TF_ROOT, "envs", env)).filter((f) => f.endsWith(".tf"));
    expect(files("prod")).toEqual(files("staging"));
    for (const f of files("staging")) {
      if (f === "backend.tf") continue; // each stack's own state key
      const staging = readFileSync(join(TF_ROOT, "envs/staging", f), "utf8");
      const prod = readFileSync(join(TF_ROOT, "envs/prod", f), "utf8");
      expect(prod.replace(/^(\s*env\s*=\s*)"prod"$/m, '$1"staging"'), `envs/prod/${f}`).toBe(staging);
    }
  });

  it("every environment stack declares its tfvars' inputs by linking modules/cluster-env/stack-variables.tf", () => {
    for (const env of ENVIRONMENTS) {
      const link = join(TF_ROOT, "envs", env, "stack-variables.tf");
      expect(lstatSync(link).isSymbolicLink(), `envs/${env}/stack-variables.tf is a link`).toBe(true);
      expect(readlinkSync(link)).toBe("../../modules/cluster-env/stack-variables.tf");
    }
  });

  it("every environment stack calls modules/cluster-env and keeps its state by linking envs/stack-moved.tf; the spokes link envs/spoke-outputs.tf", () => {
    for (const env of ENVIRONMENTS) {
      const calls = labelled(file(`envs/${env}/main.tf`), "module");
      expect(calls.map(([name, body]) => [name, str(body.source)])).toEqual([
        ["cluster", "../../modules/cluster-env"],
      ]);
      const link = join(TF_ROOT, "envs", env, "moved.tf");
      expect(lstatSync(link).isSymbolicLink(), `envs/${env}/moved.tf is a link`).toBe(true);
      expect(readlinkSync(link)).toBe("../stack-moved.tf");
    }
    for (const spoke of ["staging", "prod"]) {
      const link = join(TF_ROOT, "envs", spoke, "outputs.tf");
      expect(lstatSync(link).isSymbolicLink(), `envs/${spoke}/outputs.tf is a link`).toBe(true);
      expect(readlinkSync(link)).toBe("../spoke-outputs.tf");
    }
  });

  it("Terraform deploys no workloads: no helm, kubernetes or kubectl provider or resource", () => {
    const offending = Object.entries(parsed).flatMap(([path, d]) => {
      if ("__error__" in d) return [];
      const resources = ((d.resource ?? []) as Hcl[]).flatMap((b) => Object.keys(b));
      const providers = ((d.provider ?? []) as Hcl[]).flatMap((b) => Object.keys(b));
      return [...resources, ...providers]
        .filter((n) => /^(helm|kubernetes|kubectl)(_|$)/.test(n))
        .map((n) => `${path}: ${n}`);
    });
    expect(offending).toEqual([]);
  });

  it("every stack keeps its state in S3 with locking, under its own key, and reads others' state where it lives", () => {
    const keys = new Map<string, string>();
    const problems: string[] = [];
    for (const stack of STACKS) {
      const terraform = one(file(`envs/${stack}/backend.tf`)?.terraform) as Hcl | undefined;
      const s3 = one((one(terraform?.backend) as Hcl | undefined)?.s3) as Hcl | undefined;
      if (!s3) {
        problems.push(`envs/${stack}/backend.tf: no backend "s3"`);
        continue;
      }
      for (const attr of ["bucket", "key", "region"])
        if (!str(s3[attr])) problems.push(`envs/${stack}: backend has no ${attr}`);
      if (one(s3.use_lockfile) !== true && !s3.dynamodb_table)
        problems.push(`envs/${stack}: backend has no locking`);
      if (one(s3.encrypt) !== true) problems.push(`envs/${stack}: backend state is not encrypted`);
      keys.set(str(s3.key), stack);
      // the tfvars' state_bucket (for terraform_remote_state) is the backend's bucket
      const tfvars = file(`envs/${stack}/terraform.tfvars`);
      if (tfvars?.state_bucket && str(tfvars.state_bucket) !== str(s3.bucket))
        problems.push(
          `envs/${stack}: state_bucket ${str(tfvars.state_bucket)} is not the backend bucket ${str(s3.bucket)}`,
        );
    }
    expect(keys.size).toBe(STACKS.length);
    // in the stacks and in the modules they call (modules/cluster-env, which every environment
    // stack calls, reads shared's and, on a spoke, the hub's)
    let reads = 0;
    for (const [path, d] of Object.entries(parsed)) {
      if ("__error__" in d) continue;
      for (const [name, body] of typed(d, "data", "terraform_remote_state")) {
        reads++;
        const key = str((one(body.config) as Hcl).key);
        if (!keys.has(key))
          problems.push(`${path}: remote state "${name}" reads ${key}, which no stack writes`);
      }
    }
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);
  });
});

describe("terraform/ agrees with the GitOps side", () => {
  const yaml = (p: string) => parseYaml(readFileSync(join(REPO_ROOT, p), "utf8"));
  const tfvar = (stack: string, name: string) => one(file(`envs/${stack}/terraform.tfvars`)?.[name]);

  it("every environment's account, region, role and cluster are the ones its stack makes", () => {
    const problems: string[] = [];
    for (const env of ENVIRONMENTS) {
      const cfg = yaml(`environments/${env}/environment.yaml`);
      const account = tfvar(env, "account_id");
      const region = tfvar(env, "region");
      const expectRole = `arn:aws:iam::${account}:role/wms-${env}-model-reader`;
      if (cfg.modelStore.readRoleArn !== expectRole)
        problems.push(
          `${env}: modelStore.readRoleArn ${cfg.modelStore.readRoleArn}, terraform makes ${expectRole}`,
        );
      if (cfg.modelStore.region !== region)
        problems.push(`${env}: modelStore.region ${cfg.modelStore.region} ≠ ${region}`);
      if (cfg.namespacePrefix !== env)
        problems.push(`${env}: namespacePrefix must be ${env} (IRSA trusts ${env}-wms-*)`);
      const cluster = env === "dev" ? "in-cluster" : `wms-${env}`;
      if (cfg.destination.cluster !== cluster)
        problems.push(`${env}: destination.cluster must be ${cluster}`);
      if (!String(cfg.server.image).startsWith(`${account}.dkr.ecr.${region}.amazonaws.com/`))
        problems.push(`${env}: server.image is not in ${account}'s ECR in ${region}`);
      if (tfvar(env, "account_id") !== tfvar("shared", "account_id"))
        problems.push(`${env}: another account than shared`);
    }
    expect(problems).toEqual([]);
  });

  it("buckets, repository and roles are the ones the workflows, DVC and MLflow use", () => {
    const bucket = (uri: string) => uri.replace(/^s3:\/\//, "").split("/")[0];
    for (const env of ENVIRONMENTS) {
      expect(bucket(yaml(`environments/${env}/environment.yaml`).modelStore.uri)).toBe(
        tfvar("shared", "model_store_bucket"),
      );
    }
    expect(readFileSync(join(REPO_ROOT, ".dvc/config"), "utf8")).toContain(
      `url = s3://${tfvar("shared", "dvc_remote_bucket")}/`,
    );
    expect(yaml(".github/workflows/server-image.yaml").env.REPOSITORY).toBe(
      tfvar("shared", "ecr_repository"),
    );
    expect(readFileSync(join(REPO_ROOT, ".github/workflows/train.yaml"), "utf8")).toContain(
      `--store s3://${tfvar("shared", "model_store_bucket")}`,
    );

    const mlflow = yaml("apps/platform/mlflow.yaml").spec.source.helm.valuesObject;
    expect(mlflow.artifactRoot.s3.bucket).toBe(tfvar("shared", "mlflow_artifacts_bucket"));
    expect(mlflow.serviceAccount.annotations["eks.amazonaws.com/role-arn"]).toBe(
      `arn:aws:iam::${tfvar("dev", "account_id")}:role/wms-mlflow`,
    );

    // the CI role trusts exactly the repository Argo CD syncs from
    const projects = parseAllDocuments(
      readFileSync(join(REPO_ROOT, "apps/platform/projects.yaml"), "utf8"),
    ).map((d) => d.toJS());
    const modelProjects = projects.filter((p) => String(p.metadata.name).startsWith("wms-"));
    expect(modelProjects.map((p) => p.spec.sourceRepos)).toEqual(
      modelProjects.map(() => [`https://github.com/${tfvar("shared", "github_repository")}.git`]),
    );
  });

  it("sizes: prod spans 3 AZs with a NAT gateway each and a system node per AZ; every cluster runs the pinned EKS minor", () => {
    const prodNodes = tfvar("prod", "node_group") as Hcl;
    expect(tfvar("prod", "azs")).toHaveLength(3);
    expect(tfvar("prod", "nat_gateway_per_az")).toBe(true);
    expect(one(prodNodes.min_size)).toBeGreaterThanOrEqual(3);
    // the module default and every stack: EKS 1.36 (docs/versions.md); capacity: test/capacity.test.ts
    const eksDefault = labelled(file("modules/eks/variables.tf"), "variable").find(
      ([n]) => n === "kubernetes_version",
    )?.[1];
    expect(str(eksDefault?.default)).toBe("1.36");
    for (const env of ENVIRONMENTS) expect(tfvar(env, "kubernetes_version")).toBe("1.36");
    // non-overlapping VPCs, so that peering or a transit gateway can join them later
    const cidrs = ENVIRONMENTS.map((e) => tfvar(e, "vpc_cidr"));
    expect(new Set(cidrs).size).toBe(cidrs.length);
  });
});

describe("checkov", () => {
  // checkov takes a minute or two alone; on a loaded machine (the suite beside it) more
  it("finds no failed check in terraform/, and every skipped check says why", { timeout: 300_000 }, () => {
    const r = spawnSync(
      CHECKOV,
      ["-d", TF_ROOT, "--framework", "terraform", "--output", "json", "--skip-download"],
      { encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, LOG_LEVEL: "ERROR" } },
    );
    // exit code 1 just means failed checks; the JSON says which
    if (r.status !== 0 && r.status !== 1)
      throw new Error(`checkov exited ${r.status}:\n${r.stderr.slice(-4000)}`);
    const out = JSON.parse(r.stdout);
    const report = (Array.isArray(out) ? out.find((o) => o.check_type === "terraform") : out) as {
      results: {
        failed_checks?: { check_id: string; check_name: string; resource: string; file_path: string }[];
        skipped_checks?: {
          check_id: string;
          resource: string;
          check_result: { suppress_comment?: string };
        }[];
      };
      summary: { passed: number; failed: number; skipped: number; parsing_errors: number };
    };
    const failed = (report.results.failed_checks ?? []).map(
      (c) =>
        `${c.check_id} ${c.resource} (${relative(REPO_ROOT, join(TF_ROOT, c.file_path))}): ${c.check_name}`,
    );
    expect(failed).toEqual([]);
    expect(report.summary.parsing_errors).toBe(0);
    const unexplained = (report.results.skipped_checks ?? [])
      .filter((c) => (c.check_result.suppress_comment ?? "").trim().length < 20)
      .map((c) => `${c.check_id} ${c.resource}`);
    expect(unexplained).toEqual([]);
    expect(report.summary.failed).toBe(0);
    expect(report.summary.passed).toBeGreaterThan(300); // it did look at the resources
  });
});
