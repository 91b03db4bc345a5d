/**
 * What each generated Application tells the Argo CD UI (issue 27): spec.info rows and
 * link.argocd.argoproj.io/* annotations, carried in app.json by the generator and put on the
 * Application by the ApplicationSets' templatePatch. The e2e checks the real ApplicationSet
 * controller's output (test/e2e); here: the committed app.json files against the release cards,
 * the dashboard the links open, and the patch against the Application schema.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { LINK_ANNOTATION, versionLinks } from "../generator/src/render/app-info.ts";
import { validateObjects } from "../generator/src/validate/index.ts";
import { REPO_ROOT } from "./support/cli.ts";

interface AppJson {
  appName: string;
  environment: string;
  model: string;
  version: string;
  component: string;
  role: string;
  weight: number;
  info: { name: string; value: string }[];
  links: Record<string, string>;
}

const appJsons = (): { file: string; app: AppJson }[] =>
  ["dev", "staging", "prod"].flatMap((env) => {
    const dir = join(REPO_ROOT, "environments", env, "rendered");
    if (!existsSync(dir)) return [];
    return readdirSync(dir).map((f) => {
      const file = join(dir, f, "app.json");
      return { file, app: JSON.parse(readFileSync(file, "utf8")) as AppJson };
    });
  });

const infoOf = (app: AppJson) => Object.fromEntries(app.info.map((i) => [i.name, i.value]));

const dashboard = () => {
  const cm = parse(readFileSync(join(REPO_ROOT, "apps/monitoring/configmap.wms-dashboard.yaml"), "utf8"));
  return JSON.parse(cm.data["wms-model-versions.json"]) as {
    uid: string;
    templating: { list: { name: string; query?: string }[] };
    panels: { title: string; targets: { expr: string }[] }[];
  };
};

describe("Applications that explain themselves (app.json → spec.info and links)", () => {
  const apps = appJsons();

  it("every version's app.json carries its card's scores, precision and digest, its role and weight", () => {
    const versions = apps.filter(({ app }) => app.component === "model-server");
    expect(versions.length).toBeGreaterThanOrEqual(4);
    for (const { file, app } of versions) {
      const card = JSON.parse(
        readFileSync(join(REPO_ROOT, "model/releases", app.model, app.version, "model-card.json"), "utf8"),
      );
      const info = infoOf(app);
      const precision = info.Precision;
      const served = precision === "int8" ? card.variants.int8 : card.artifact;
      const metrics = precision === "int8" ? card.variants.int8.metrics : card.metrics;
      expect(info, file).toEqual({
        Model: app.model,
        Version: app.version,
        Role: app.role,
        "Traffic weight": `${app.weight}%`,
        "Test IoU": metrics.test.iou.toFixed(4),
        "Test Dice": metrics.test.dice.toFixed(4),
        Precision: expect.stringMatching(/^(fp32|int8)$/),
        "Model digest": `sha256:${served.sha256}`,
        "Training data": card.training.dataVersion,
      });
    }
  });

  it("every version links to the dashboard filtered to it, the MLflow model and its release card", () => {
    const dash = dashboard();
    const vars = dash.templating.list.map((v) => v.name);
    for (const { file, app } of apps.filter(({ app }) => app.component === "model-server")) {
      const links = app.links;
      expect(Object.keys(links).sort(), file).toEqual(
        ["grafana-dashboard", "mlflow-model", "release-card"].map((t) => LINK_ANNOTATION + t),
      );
      const grafana = new URL(links[`${LINK_ANNOTATION}grafana-dashboard`] as string);
      expect(grafana.pathname).toBe(`/d/${dash.uid}/`);
      expect(Object.fromEntries(grafana.searchParams)).toEqual({
        "var-environment": app.environment,
        "var-version": app.version,
      });
      // the variables the link sets exist, and the per-version panels are filtered by $version
      for (const p of grafana.searchParams.keys()) expect(vars).toContain(p.replace(/^var-/, ""));
      const card = new URL(links[`${LINK_ANNOTATION}release-card`] as string);
      const path = card.pathname.replace(/^\/[^/]+\/[^/]+\/blob\/[^/]+\//, "");
      expect(existsSync(join(REPO_ROOT, path)), `${file}: ${path}`).toBe(true);
      expect(path).toBe(`model/releases/${app.model}/${app.version}/model-card.json`);
      expect(links[`${LINK_ANNOTATION}mlflow-model`]).toMatch(new RegExp(`/#/models/${app.model}$`));
    }
    const filtered = dash.panels.filter((p) => p.targets.some((t) => t.expr.includes('=~"$version"')));
    expect(filtered.map((p) => p.title)).toContain("Requests / s by version and code");
  });

  it("the model folder's Application names every version's role and share", () => {
    const routing = apps.filter(({ app }) => app.component === "routing");
    expect(routing.length).toBeGreaterThanOrEqual(2);
    for (const { file, app } of routing) {
      const versions = apps.filter(
        (a) => a.app.component === "model-server" && a.app.environment === app.environment,
      );
      const traffic = infoOf(app).Traffic as string;
      for (const v of versions)
        expect(traffic, file).toContain(`${v.app.version} ${v.app.role} ${v.app.weight}%`);
    }
  });

  it("an environment without links gets none (the patch then adds no annotation)", () => {
    const config = { name: "dev" } as Parameters<typeof versionLinks>[0];
    const pv = { model: "wms", version: "1.0.0", entry: { file: "x" } } as Parameters<typeof versionLinks>[1];
    expect(versionLinks(config, pv)).toEqual({});
  });

  it("each ApplicationSet's templatePatch puts info and links on a schema-valid Application", () => {
    const sets = parseAllDocuments(
      readFileSync(join(REPO_ROOT, "apps/platform/wms-environments.yaml"), "utf8"),
    ).map((d) => d.toJS());
    expect(sets).toHaveLength(3);
    const { app } = apps.find(({ app }) => app.component === "model-server") as { app: AppJson };
    for (const set of sets) {
      const patch = set.spec.templatePatch as string;
      expect(patch, set.metadata.name).toContain("{{ toJson .links }}");
      expect(patch, set.metadata.name).toContain("{{ toJson .info }}");
      // sprig's toJson is encoding/json's Marshal: for these strings the same text as JSON.stringify
      const text = patch
        .replace("{{ toJson .links }}", JSON.stringify(app.links))
        .replace("{{ toJson .info }}", JSON.stringify(app.info));
      const patched = parse(text);
      const application = {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: app.appName, namespace: "argocd", annotations: patched.metadata.annotations },
        spec: {
          project: "wms-dev",
          source: {
            repoURL: "https://github.com/example-org/wms-gitops.git",
            path: "x",
            targetRevision: "main",
          },
          destination: { name: "in-cluster", namespace: "dev-wms-1-1-0" },
          info: patched.spec.info,
        },
      };
      expect(validateObjects([{ file: "patched", index: 0, object: application }])).toEqual([]);
      expect(application.spec.info).toEqual(app.info);
      expect(application.metadata.annotations).toEqual(app.links);
    }
  });
});
