/**
 * Argo CD's API server as people reach it (issue 27): over TLS, signed in as the suite's local
 * read-only account, with the access production configures (apps/argocd: admin disabled,
 * argocd-rbac-cm's read-only default role). What the UI shows for an Application is what this
 * API returns: spec.info and the link.argocd.argoproj.io/* annotations the ApplicationSets put
 * there from app.json (docs/argocd-ui.md).
 *
 *   npm run cluster -- up && npx vitest run --config vitest.e2e.config.ts test/e2e/argocd-server.e2e.test.ts
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PORTS, READONLY_ACCOUNT, REPO_ROOT, STATE } from "./cluster/layout.ts";
import { ARGOCD_NS, clients, eventually, expectedApps, HUB, LOCAL } from "./support.ts";

interface Reply {
  status: number;
  body: string;
}

let ca = "";
let token = "";

/** One HTTPS request to argocd-server, verifying its certificate against the one it keeps in argocd-secret. */
function api(method: string, path: string, body?: unknown, auth = token): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: PORTS.argocdServer,
        // the self-signed certificate names localhost (settings.InitializeSettings)
        servername: "localhost",
        ca,
        method,
        path,
        headers: {
          "content-type": "application/json",
          ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const login = (username: string, password: string) =>
  api("POST", "/api/v1/session", { username, password }, "");

describe.skipIf(!LOCAL)("argocd-server: TLS, read-only access, Applications that explain themselves", () => {
  beforeAll(async () => {
    const secret = await eventually(
      "argocd-server's TLS certificate in argocd-secret",
      async () => {
        const s = await clients(HUB).core.readNamespacedSecret({
          name: "argocd-secret",
          namespace: ARGOCD_NS,
        });
        return s.data?.["tls.crt"] ? s : "no tls.crt yet";
      },
      120_000,
    );
    ca = Buffer.from(secret.data?.["tls.crt"] as string, "base64").toString();
    const password = readFileSync(join(STATE, "argocd/readonly-password"), "utf8").trim();
    const r = await eventually(
      "a session for the read-only account",
      async () => {
        const res = await login(READONLY_ACCOUNT, password);
        return res.status === 200 ? res : `${res.status} ${res.body}`;
      },
      120_000,
    );
    token = JSON.parse(r.body).token;
    expect(token).toMatch(/^ey/);
  });

  it("the built-in admin is disabled and a wrong password is refused", async () => {
    const admin = await login("admin", "password");
    expect(admin.status).toBe(401);
    const wrong = await login(READONLY_ACCOUNT, "not-the-password");
    expect(wrong.status).toBe(401);
    // SSO is offered through the IdP's OIDC (argocd-cm oidc.config), not Dex
    const settings = JSON.parse((await api("GET", "/api/v1/settings", undefined, "")).body);
    expect(settings.oidcConfig?.name).toBe("SSO");
    expect(settings.dexConfig?.connectors ?? []).toEqual([]);
  });

  it("lists dev's versions with their model info and links, as the generator wrote them", async () => {
    const want = expectedApps(REPO_ROOT).filter((a) => a.environment === "dev");
    expect(want.length).toBeGreaterThanOrEqual(2);
    const items = await eventually(
      "dev's Applications with spec.info, read through argocd-server",
      async () => {
        const res = await api(
          "GET",
          `/api/v1/applications?selector=${encodeURIComponent("wms.example/environment=dev")}`,
        );
        if (res.status !== 200) return `${res.status} ${res.body}`;
        const list = (JSON.parse(res.body).items ?? []) as {
          metadata: { name: string; annotations?: Record<string, string> };
          spec: { info?: { name: string; value: string }[] };
        }[];
        const missing = want.filter((w) => !list.some((a) => a.metadata.name === w.appName && a.spec.info));
        return missing.length === 0 ? list : `not yet: ${missing.map((m) => m.appName).join(", ")}`;
      },
      540_000,
    );
    for (const w of want) {
      const app = items.find((a) => a.metadata.name === w.appName);
      // expectedApps returns each app.json whole: info and links as committed
      const committed = w as unknown as { info: unknown; links: Record<string, string> };
      expect(app?.spec.info, w.appName).toEqual(committed.info);
      for (const [k, v] of Object.entries(committed.links)) {
        expect(app?.metadata.annotations?.[k], `${w.appName} ${k}`).toBe(v);
      }
    }
    const live = items.find((a) => a.spec.info?.some((i) => i.name === "Role" && i.value === "live"));
    expect(live?.spec.info?.map((i) => i.name)).toEqual(
      expect.arrayContaining([
        "Version",
        "Test IoU",
        "Test Dice",
        "Precision",
        "Model digest",
        "Traffic weight",
      ]),
    );
  });

  it("refuses the read-only account a deployer's action (sync)", async () => {
    const name = expectedApps(REPO_ROOT).find((a) => a.environment === "dev")?.appName as string;
    const get = await api("GET", `/api/v1/applications/${name}`);
    expect(get.status).toBe(200);
    const sync = await api("POST", `/api/v1/applications/${name}/sync`, { name });
    expect(sync.status, sync.body).toBe(403);
    expect(sync.body).toMatch(/permission denied/);
  });
});
