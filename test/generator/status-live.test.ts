/**
 * `status --live` through @kubernetes/client-node (and the undici it brings) under the repository's
 * Node. It crashed on Node 20 (undici 8 needs Node >= 22.19) before reaching any server.
 *
 * The server here is a loopback stand-in that answers the one request `status --live` makes, the
 * Argo CD Applications list, the way the Kubernetes API does (a List of argoproj.io/v1alpha1
 * Applications, JSON), over TLS with a certificate the kubeconfig trusts (openssl makes a
 * throwaway one), as a cluster's API does. It stands in for the real kube-apiserver only for this
 * crash test; the real control plane replaces it when the local cluster of issue 9 lands.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureCopy, REPO_ROOT } from "../support/cli.ts";

const application = (env: string, version: string, sync: string, health: string) => ({
  apiVersion: "argoproj.io/v1alpha1",
  kind: "Application",
  metadata: {
    name: `${env}-wms-${version.replaceAll(".", "-")}`,
    namespace: "argocd",
    labels: { "wms.example/environment": env, "wms.example/model": "wms", "wms.example/version": version },
  },
  status: { sync: { status: sync, revision: "0123abc" }, health: { status: health } },
});

const APPS = [
  application("dev", "1.1.0", "Synced", "Healthy"),
  application("dev", "1.2.0", "OutOfSync", "Progressing"),
  application("prod", "1.1.0", "Synced", "Healthy"),
];

let server: Server;
let url: string;
let caData: string;
const requests: { method: string; path: string; auth: string | undefined }[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "wms-standin-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  const cert = readFileSync(join(dir, "cert.pem"));
  caData = cert.toString("base64");
  server = createServer({ key: readFileSync(join(dir, "key.pem")), cert }, (req: IncomingMessage, res) => {
    requests.push({ method: req.method ?? "", path: req.url ?? "", auth: req.headers.authorization });
    const u = new URL(req.url ?? "/", "https://stand-in");
    if (req.method === "GET" && u.pathname === "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          apiVersion: "argoproj.io/v1alpha1",
          kind: "ApplicationList",
          metadata: { resourceVersion: "42" },
          items: APPS,
        }),
      );
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

function kubeconfig(server: string): string {
  const dir = mkdtempSync(join(tmpdir(), "wms-kubeconfig-"));
  const file = join(dir, "config");
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: stand-in",
      `    cluster: { server: "${server}", certificate-authority-data: "${caData}" }`,
      "users:",
      "  - name: tester",
      "    user: { token: test-token }",
      "contexts:",
      "  - name: stand-in",
      "    context: { cluster: stand-in, user: tester }",
      "current-context: stand-in",
      "",
    ].join("\n"),
  );
  return file;
}

/** The CLI as a real process, asynchronously: the stand-in server answers from this process. */
function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "generator/src/cli.ts"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: "1", COLUMNS: "", ...env }, // whole table cells (table.ts)
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("status --live", () => {
  it("lists Argo CD's Applications through the Kubernetes API and shows sync/health per version", async () => {
    const root = fixtureCopy("basic");
    const r = await cli(["status", "--live", "--root", root], { KUBECONFIG: kubeconfig(url) });
    expect(r.stderr).not.toMatch(/TypeError|undici/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^ENV\s+MODEL\s+LIVE\s+CANARY\s+RETAINED\s+LAST DEPLOY\s+RENDERED\s+ARGO CD \(sync\/health\)$/m,
    );
    expect(r.stdout).toMatch(
      /^dev\s+wms\s+1\.1\.0\s+1\.2\.0 @20%.*1\.1\.0 Synced\/Healthy, 1\.2\.0 OutOfSync\/Progressing$/m,
    );
    expect(r.stdout).toMatch(/^prod\s+wms\s+1\.1\.0\s.*1\.1\.0 Synced\/Healthy$/m);
    // the requests, as client-node sends them: a reachability check that reads one Application,
    // then the one full list, both with the label selector and the kubeconfig's token
    const list = requests.filter((q) => q.path.startsWith("/apis/argoproj.io/"));
    expect(list.map((q) => new URL(q.path, url).searchParams.get("limit"))).toEqual(["1", null]);
    for (const q of list) {
      expect(q.method).toBe("GET");
      expect(new URL(q.path, url).searchParams.get("labelSelector")).toBe("wms.example/environment");
      expect(q.auth).toBe("Bearer test-token");
    }
  });

  it("without a Kubernetes context: a clear error naming the fix, exit code 2 (bad input), no table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wms-nokube-"));
    const empty = join(dir, "config");
    writeFileSync(empty, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
    const r = await cli(["status", "--live", "--root", fixtureCopy("basic")], { KUBECONFIG: empty });
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "status --live needs a reachable cluster with Argo CD (no current kube context)",
    );
    expect(r.stderr).toContain("fix: set KUBECONFIG or the kube context (aws eks update-kubeconfig)");
    expect(r.code).toBe(2);
  });
});
