/**
 * Access to Argo CD as production has it (apps/argocd, apps/argocd-sso; docs/argocd-ui.md): the
 * built-in admin off, SSO through the IdP's OIDC with its client secret from External Secrets,
 * read-only by default, a deployer role that cannot change Argo CD itself. The e2e signs in to
 * the real argocd-server with these settings (test/e2e/argocd-server.e2e.test.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./support/cli.ts";

const read = (f: string) => parse(readFileSync(join(REPO_ROOT, f), "utf8"));
const cm = read("apps/argocd/argocd-cm.yaml");
const rbac = read("apps/argocd/argocd-rbac-cm.yaml");

/** policy.csv lines as [p|g, subject, resource|role, action, object, effect]. */
const policies = (csv: string) =>
  csv
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(/\s*,\s*/));

describe("Argo CD access (argocd-cm, argocd-rbac-cm, the OIDC client secret)", () => {
  it("the built-in admin is disabled and the kustomization applies both settings", () => {
    expect(cm.data["admin.enabled"]).toBe("false");
    const k = read("apps/argocd/kustomization.yaml");
    expect(k.patches.map((p: { path: string }) => p.path)).toEqual(
      expect.arrayContaining(["argocd-cm.yaml", "argocd-rbac-cm.yaml"]),
    );
  });

  it("SSO: the OIDC client secret is a reference Argo CD resolves from the ExternalSecret's Secret", () => {
    const oidc = parse(cm.data["oidc.config"]);
    expect(oidc.issuer).toMatch(/^https:\/\//);
    expect(oidc.requestedScopes).toContain("groups");
    expect(cm.data.url).toMatch(/^https:\/\//);
    const ref = /^\$([a-z0-9-]+):([A-Za-z0-9_.-]+)$/.exec(oidc.clientSecret);
    expect(ref, "clientSecret must be $<secret>:<key>, never the secret itself").not.toBeNull();
    const [, secretName, key] = ref as RegExpExecArray;
    const es = read("apps/argocd-sso/externalsecret.yaml");
    expect(es.kind).toBe("ExternalSecret");
    expect(es.metadata.namespace).toBe("argocd");
    expect(es.spec.target.name).toBe(secretName);
    // Argo CD only reads Secrets so labelled (util/settings: app.kubernetes.io/part-of=argocd)
    expect(es.spec.target.template.metadata.labels["app.kubernetes.io/part-of"]).toBe("argocd");
    expect(key).toBe("clientSecret");
    const set = parseAllDocuments(readFileSync(join(REPO_ROOT, "apps/platform/argocd-sso.yaml"), "utf8"))
      .map((d) => d.toJS())
      .find((d) => d.kind === "ApplicationSet");
    expect(set.spec.generators[0].clusters.selector.matchLabels).toEqual({ hub: "true" });
    expect(set.spec.template.spec.source.path).toBe("apps/argocd-sso");
  });

  it("everyone signed in may only look; deployers may sync and retire versions, never change Argo CD", () => {
    expect(rbac.data["policy.default"]).toBe("role:readonly");
    expect(rbac.data.scopes).toBe("[groups]");
    const lines = policies(rbac.data["policy.csv"]);
    const deployer = lines.filter((l) => l[0] === "p" && l[1] === "role:deployer");
    expect(deployer.map((l) => `${l[2]} ${l[3]}`)).toEqual(
      expect.arrayContaining(["applications sync", "applications get"]),
    );
    for (const l of deployer) {
      // only what the wms-* projects hold, and nothing that edits Argo CD's own objects
      expect(l[2], l.join(",")).toMatch(/^(applications|logs|projects)$/);
      if (l[2] === "projects") expect(l[3]).toBe("get");
      expect(l[4], l.join(",")).toMatch(/^wms-\*/);
      expect(l[5]).toBe("allow");
    }
    expect(lines).toContainEqual(["g", "wms-deployers", "role:deployer"]);
    expect(lines.filter((l) => l[2] === "role:admin").map((l) => l[1])).toEqual(["wms-platform-admins"]);
  });
});
