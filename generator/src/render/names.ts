/** Names derived from (environment, model, version): one place, so every object agrees. */
import { PORTS } from "../../../model/serving-contract.ts";
import type { EnvironmentConfig } from "../config.ts";

/** "1.5.0-rc.1" → "1-5-0-rc-1": a DNS-label-safe form of a version. */
export const versionSlug = (version: string) => version.replace(/[^0-9a-z]+/g, "-");

export const versionNamespace = (env: EnvironmentConfig, model: string, version: string) =>
  `${env.namespacePrefix}-${model}-${versionSlug(version)}`;

/** The Argo CD Application the ApplicationSet makes from a version's folder (app.json appName). */
export const versionAppName = (env: EnvironmentConfig, model: string, version: string) =>
  `${env.name}-${model}-${versionSlug(version)}`;

export const routingNamespace = (env: EnvironmentConfig, model: string) =>
  `${env.namespacePrefix}-${model}-routing`;

/** Folder under environments/<env>/rendered/ (docs/contracts.md: <model>-<version>). */
export const versionFolder = (model: string, version: string) => `${model}-${version}`;
export const routingFolder = (model: string) => `${model}-routing`;

/** the server's ports, as the serving contract has them (the server listens there by default) */
export const INFERENCE_PORT = PORTS.inference;
export const METRICS_PORT = PORTS.metrics;

export const LABEL = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  version: "app.kubernetes.io/version",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
  environment: "wms.example/environment",
  model: "wms.example/model",
  role: "wms.example/role",
} as const;
