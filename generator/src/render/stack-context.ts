/**
 * What every object of a version's stack is made from: the Kubernetes object type, the
 * version's selector and labels, its namespace and the metadata helper (a StackContext), and
 * the versions its server talks to (StackPeers). Pure.
 */
import type { EnvironmentConfig } from "../config.ts";
import type { PlannedVersion } from "../plan.ts";
import { INFERENCE_PORT, LABEL, versionNamespace, versionSlug } from "./names.ts";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

export const stackSelector = (model: string, version: string) => ({
  [LABEL.name]: model,
  [LABEL.instance]: `${model}-${versionSlug(version)}`,
});

export const stackLabels = (env: EnvironmentConfig, model: string, version: string) => ({
  ...stackSelector(model, version),
  [LABEL.version]: version,
  [LABEL.component]: "model-server",
  [LABEL.partOf]: "wms",
  [LABEL.managedBy]: "wms-generator",
  [LABEL.environment]: env.name,
  [LABEL.model]: model,
});

/** Versions one version's server talks to directly: live copies photos to its shadow. */
export interface StackPeers {
  /** (live only) the shadow version and the share of answered photos copied to it */
  shadow?: { pv: PlannedVersion; sample: number };
  /** (the shadow only) the live version whose server calls it */
  shadowedBy?: PlannedVersion;
}

/** In-cluster URL of a version's inference Service (`<model>.<namespace>.svc`). */
export const versionServiceUrl = (env: EnvironmentConfig, pv: PlannedVersion) =>
  `http://${pv.model}.${versionNamespace(env, pv.model, pv.version)}.svc:${INFERENCE_PORT}`;

/** One version's stack as its objects see it: where it lives and how its objects are labelled. */
export interface StackContext {
  env: EnvironmentConfig;
  pv: PlannedVersion;
  /** the version's namespace */
  ns: string;
  selector: Record<string, string>;
  labels: Record<string, string>;
  /** metadata of an object of the stack: its name in the version's namespace, with its labels */
  meta: (name: string, extra?: Partial<K8sObject["metadata"]>) => K8sObject["metadata"];
}

export function stackContext(env: EnvironmentConfig, pv: PlannedVersion): StackContext {
  const ns = versionNamespace(env, pv.model, pv.version);
  const labels = stackLabels(env, pv.model, pv.version);
  return {
    env,
    pv,
    ns,
    selector: stackSelector(pv.model, pv.version),
    labels,
    meta: (name, extra = {}) => ({ name, namespace: ns, labels, ...extra }),
  };
}
