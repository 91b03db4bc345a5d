/**
 * What an Application says about itself in the Argo CD UI: `spec.info` (name/value rows on the
 * Application's summary) and `link.argocd.argoproj.io/<title>` annotations (external links the
 * UI shows as buttons). Both travel in app.json; the ApplicationSets' templatePatch puts them
 * on the Application (apps/platform/wms-environments.yaml). Pure.
 */
import type { EnvironmentConfig } from "../config.ts";
import type { ModelPlan, PlannedVersion } from "../plan.ts";

/** One row of an Application's spec.info (Argo CD's v1alpha1.Info). */
export interface InfoItem {
  name: string;
  value: string;
}

/** The annotation prefix Argo CD's UI reads external links from (docs: operator-manual/deep_links, "external URLs"). */
export const LINK_ANNOTATION = "link.argocd.argoproj.io/";

/** The dashboard apps/monitoring ships (its uid), with `environment` and `version` variables. */
export const DASHBOARD_UID = "wms-model-versions";

const score = (x: number) => x.toFixed(4);

export function versionInfo(pv: PlannedVersion): InfoItem[] {
  const { served } = pv;
  return [
    { name: "Model", value: pv.model },
    { name: "Version", value: pv.version },
    { name: "Role", value: pv.role },
    { name: "Traffic weight", value: `${pv.weight}%` },
    { name: "Test IoU", value: score(served.metrics.test.iou) },
    { name: "Test Dice", value: score(served.metrics.test.dice) },
    { name: "Precision", value: served.precision },
    { name: "Model digest", value: `sha256:${served.artifact.sha256}` },
    { name: "Training data", value: pv.entry.card.training.dataVersion },
  ];
}

/** The model folder's Application: which version gets which share. */
export function routingInfo(mp: ModelPlan): InfoItem[] {
  return [
    { name: "Model", value: mp.model },
    { name: "Role", value: "routing" },
    {
      name: "Traffic",
      value: mp.versions.map((v) => `${v.version} ${v.role} ${v.weight}%`).join(", ") || "none",
    },
  ];
}

const base = (url: string) => url.replace(/\/+$/, "");

/**
 * The version's links: the Grafana dashboard filtered to this environment and version, the
 * MLflow registered model (its versions carry the wms.version tag, generator/src/mlflow.ts),
 * and the release card in the repository. Absent `links` in environment.yaml: none.
 */
export function versionLinks(config: EnvironmentConfig, pv: PlannedVersion): Record<string, string> {
  const links = config.links;
  if (!links) return {};
  const out: Record<string, string> = {};
  if (links.grafana) {
    const q = new URLSearchParams({ "var-environment": config.name, "var-version": pv.version });
    out[`${LINK_ANNOTATION}grafana-dashboard`] = `${base(links.grafana)}/d/${DASHBOARD_UID}/?${q}`;
  }
  if (links.mlflow) {
    out[`${LINK_ANNOTATION}mlflow-model`] = `${base(links.mlflow)}/#/models/${encodeURIComponent(pv.model)}`;
  }
  if (links.repository) {
    out[`${LINK_ANNOTATION}release-card`] =
      `${base(links.repository)}/${pv.entry.file.split("\\").join("/")}`;
  }
  return out;
}

/** The model folder's links: the dashboard filtered to the environment (every version). */
export function routingLinks(config: EnvironmentConfig): Record<string, string> {
  const grafana = config.links?.grafana;
  if (!grafana) return {};
  const q = new URLSearchParams({ "var-environment": config.name });
  return { [`${LINK_ANNOTATION}grafana-dashboard`]: `${base(grafana)}/d/${DASHBOARD_UID}/?${q}` };
}
