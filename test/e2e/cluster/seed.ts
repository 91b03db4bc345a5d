/**
 * The repository Argo CD watches: a bare repository on the loopback git server, seeded with
 * this checkout's HEAD plus one commit that adapts it to a machine without the internet:
 *  - every repoURL (and AppProject sourceRepo) naming this repository points at the loopback
 *    git server instead;
 *  - platform Applications whose sources cannot be fetched here (remote Helm charts, a
 *    kustomization with a remote resource) are left out: LEAVE_OUT_NETWORK_APPS, listed by `up`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { REPO_ROOT, STATE } from "./layout.ts";

/** The one switch: leave out platform apps whose sources need the internet (default on). */
export const LEAVE_OUT_NETWORK_APPS = process.env.E2E_LEAVE_OUT_NETWORK_APPS !== "0";

export const UPSTREAM_REPO_URL = "https://github.com/example-org/wms-gitops.git";

interface AppDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    source?: Record<string, unknown>;
    destination?: { namespace?: string };
    syncPolicy?: { syncOptions?: string[] };
  };
}

export interface LeftOut {
  file: string;
  name: string;
  why: string;
  namespace?: string;
  createNamespace: boolean;
}

function git(cwd: string, args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Why an Application's source cannot be fetched on this machine, or undefined when it can. */
function unreachable(root: string, source: Record<string, unknown>): string | undefined {
  if (typeof source.chart === "string") return `Helm chart ${source.chart} from ${source.repoURL}`;
  const path = source.path;
  if (typeof path === "string" && existsSync(join(root, path, "kustomization.yaml"))) {
    const k = parse(readFileSync(join(root, path, "kustomization.yaml"), "utf8")) as { resources?: string[] };
    const remote = (k.resources ?? []).find((r) => /^https?:\/\//.test(r));
    if (remote) return `${path}/kustomization.yaml fetches ${remote}`;
  }
  return undefined;
}

/** Rewrite apps/ in `work` for the loopback git server; returns what was left out. */
export function adaptForLoopback(work: string, remoteUrl: string): LeftOut[] {
  const leftOut: LeftOut[] = [];
  const files = [
    "apps/root.yaml",
    ...readdirSync(join(work, "apps/argocd")).map((f) => `apps/argocd/${f}`),
    ...readdirSync(join(work, "apps/platform")).map((f) => `apps/platform/${f}`),
  ];
  for (const file of files.filter((f) => f.endsWith(".yaml"))) {
    const abs = join(work, file);
    const docs = parseAllDocuments(readFileSync(abs, "utf8"));
    const kept = docs.filter((doc) => {
      const obj = doc.toJS() as AppDoc | null;
      if (!LEAVE_OUT_NETWORK_APPS || obj?.kind !== "Application") return true;
      const why = unreachable(work, obj.spec?.source ?? {});
      if (!why) return true;
      leftOut.push({
        file,
        name: obj.metadata?.name ?? "(unnamed)",
        why,
        namespace: obj.spec?.destination?.namespace,
        createNamespace: (obj.spec?.syncPolicy?.syncOptions ?? []).includes("CreateNamespace=true"),
      });
      return false;
    });
    const text = kept.map((d) => d.toString()).join("---\n");
    writeFileSync(abs, text.split(UPSTREAM_REPO_URL).join(remoteUrl));
  }
  return leftOut;
}

export interface Seeded {
  bare: string;
  remoteUrl: string;
  leftOut: LeftOut[];
}

/** Create the bare repository and push HEAD plus the adapting commit to its main. */
export function seedRepository(remoteUrl: string): Seeded {
  const root = join(STATE, "git");
  const bare = join(root, "wms-gitops.git");
  const work = join(STATE, "seed");
  rmSync(bare, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  execFileSync("git", ["init", "--bare", "--initial-branch=main", bare], { stdio: "ignore" });
  git(bare, ["config", "http.receivepack", "true"]);
  execFileSync("git", ["clone", "--quiet", "--no-local", REPO_ROOT, work], { stdio: "ignore" });
  git(work, ["checkout", "--quiet", "-B", "main"]);
  const leftOut = adaptForLoopback(work, remoteUrl);
  git(work, ["add", "-A", "apps"]);
  const body = [
    "e2e: Argo CD watches the loopback git server",
    "",
    `repoURL ${UPSTREAM_REPO_URL} -> ${remoteUrl}`,
    ...leftOut.map((l) => `left out: ${l.name} (${l.file}): ${l.why}`),
  ].join("\n");
  execFileSync(
    "git",
    ["-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "--quiet", "-m", body],
    { cwd: work },
  );
  git(work, ["push", "--quiet", bare, "main:main"]);
  return { bare, remoteUrl, leftOut };
}
