/**
 * Render an environment plan into files: path (relative to environments/<env>/rendered/) →
 * exact bytes. Pure; writing happens in output.ts.
 */
import type { EnvironmentPlan, ModelPlan, PlannedVersion } from "../plan.ts";
import { type InfoItem, routingInfo, routingLinks, versionInfo, versionLinks } from "./app-info.ts";
import { renderVersionGate, renderVersionNamespace } from "./gate.ts";
import { routingFolder, routingNamespace, versionAppName, versionFolder, versionNamespace } from "./names.ts";
import { renderRouting } from "./routing.ts";
import { header, toYaml } from "./serialize.ts";
import { renderVersionStack } from "./stack.ts";
import type { K8sObject, StackPeers } from "./stack-context.ts";

export type RenderedFiles = Map<string, string>;

/** One rendered object with the file it lands in, for schema validation and tests. */
export interface RenderedObject {
  file: string;
  object: K8sObject;
}

/** What the ApplicationSet's git files generator reads from each folder (apps/…/applicationset). */
export interface AppParams {
  appName: string;
  environment: string;
  model: string;
  version: string;
  component: "model-server" | "routing";
  role: string;
  weight: number;
  namespace: string;
  cluster: string;
  project: string;
  /** the Application's spec.info rows (app-info.ts) */
  info: InfoItem[];
  /** link.argocd.argoproj.io/<title> annotations → URL (app-info.ts); {} when environment.yaml has no links */
  links: Record<string, string>;
}

export const APP_PARAMS_FILE = "app.json";

export function renderEnvironment(plan: EnvironmentPlan): {
  files: RenderedFiles;
  objects: RenderedObject[];
} {
  const files: RenderedFiles = new Map();
  const objects: RenderedObject[] = [];
  const { config } = plan.env;
  const add = (folder: string, sources: string[], objs: K8sObject[], params: AppParams) => {
    for (const object of objs) {
      const file = `${folder}/${object.kind.toLowerCase()}.${object.metadata.name}.yaml`;
      if (files.has(file)) throw new Error(`two objects render to ${file}`);
      files.set(file, header(sources) + toYaml(object));
      objects.push({ file, object });
    }
    files.set(`${folder}/${APP_PARAMS_FILE}`, `${JSON.stringify(params, null, 2)}\n`);
  };
  for (const mp of plan.models) {
    const live = mp.versions.find((v) => v.role === "live");
    // what live copies photos to: the shadow, or the canary when the version file names it as shadow
    const copies = mp.shadow;
    const shadow = copies ? mp.versions.find((v) => v.version === copies.version) : undefined;
    const peersOf = (pv: PlannedVersion): StackPeers =>
      pv === live && shadow && copies
        ? { shadow: { pv: shadow, sample: copies.sample } }
        : pv === shadow && live
          ? { shadowedBy: live }
          : {};
    for (const pv of mp.versions) {
      const stack = renderVersionStack(config, pv, peersOf(pv));
      add(versionFolder(pv.model, pv.version), sourcesOf(plan, mp, pv), stack, {
        appName: versionAppName(config, pv.model, pv.version),
        environment: config.name,
        model: pv.model,
        version: pv.version,
        component: "model-server",
        role: pv.role,
        weight: pv.weight,
        namespace: versionNamespace(config, pv.model, pv.version),
        cluster: config.destination.cluster,
        project: config.destination.project,
        info: versionInfo(pv),
        links: versionLinks(config, pv),
      });
    }
    if (mp.versions.length === 0) continue;
    // The model's folder: every version's Namespace and traffic gate, and the routes. Nothing takes traffic (a
    // version file without live): the Namespaces and no route at all.
    const routes = mp.versions.some((v) => v.weight > 0) ? renderRouting(config, mp) : [];
    const namespaces = mp.versions.map((pv) => renderVersionNamespace(config, pv));
    // wave -1 Namespaces, wave 0 the gates (each version's Ready floor), wave 1 the routes
    const gates = mp.versions.map((pv) => renderVersionGate(config, pv));
    add(
      routingFolder(mp.model),
      [plan.env.configFile, mp.versionFile],
      [...namespaces, ...gates, ...routes],
      {
        appName: `${config.name}-${mp.model}-routing`,
        environment: config.name,
        model: mp.model,
        version: "",
        component: "routing",
        role: "routing",
        weight: 100,
        namespace: routingNamespace(config, mp.model),
        cluster: config.destination.cluster,
        project: config.destination.project,
        info: routingInfo(mp),
        links: routingLinks(config),
      },
    );
  }
  return { files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : 1))), objects };
}

const sourcesOf = (plan: EnvironmentPlan, mp: ModelPlan, pv: PlannedVersion) => [
  plan.env.configFile,
  mp.versionFile,
  pv.entry.file,
];
