/**
 * What a version renders into its model's folder (<model>-routing, render/index.ts) rather than
 * its own: its Namespace (wave -1) and its PodDisruptionBudget, the traffic gate (wave 0), in
 * front of the routes (wave 1). Pure.
 */
import type { EnvironmentConfig } from "../config.ts";
import type { PlannedVersion } from "../plan.ts";
import { replicaFloor } from "./capacity.ts";
import { LABEL, versionNamespace, versionSlug } from "./names.ts";
import { type K8sObject, stackLabels, stackSelector } from "./stack-context.ts";

/** The version's Namespace, Pod Security `restricted`; rendered into the model's folder. */
export function renderVersionNamespace(env: EnvironmentConfig, pv: PlannedVersion): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: versionNamespace(env, pv.model, pv.version),
      annotations: syncWave(WAVE.namespaces),
      labels: {
        ...stackLabels(env, pv.model, pv.version),
        [LABEL.role]: pv.role,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      },
    },
  };
}

/** Argo CD sync waves of the model app (render/index.ts): Namespaces, traffic gates, routes. */
export const WAVE = { namespaces: "-1", gates: "0", routes: "1" } as const;
const SYNC_WAVE = "argocd.argoproj.io/sync-wave";
export const syncWave = (wave: string) => ({ [SYNC_WAVE]: wave });

/** Label of the PodDisruptionBudgets argocd-cm's health check treats as traffic gates. */
export const GATE_LABEL = "wms.example/gate";

/**
 * The version's PodDisruptionBudget, rendered into the model's folder (not the version's), so
 * that it is also the gate in front of the routes. For a version that takes traffic:
 * minAvailable = the Ready pods its weight needs (capacity.ts), labelled as a gate. argocd-cm's
 * health check of such a budget is Healthy only when the disruption controller counts that many
 * Ready pods for the current spec (status.currentHealthy ≥ desiredHealthy at observedGeneration).
 * It sits in wave 0 and the routes in wave 1, and Argo CD's sync applies a wave only when every
 * resource of the previous one is Healthy (syncContext.Sync, gitops-engine pkg/sync/sync_context.go,
 * the engine Argo CD v3.5.7 builds with: "if we are multi-step and we have any running tasks …
 * wait"). So a route never sends a version more than its Ready pods can take, whatever the commits
 * were: two in one push, a revert, a push that skipped `gen check`. A version without traffic keeps
 * maxUnavailable: 1 and no gate label (Argo CD's built-in PodDisruptionBudget health).
 * One budget per version: the eviction API refuses pods that more than one budget selects.
 */
export function renderVersionGate(env: EnvironmentConfig, pv: PlannedVersion): K8sObject {
  const floor = replicaFloor(env, pv.weight);
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: `${pv.model}-${versionSlug(pv.version)}`,
      namespace: versionNamespace(env, pv.model, pv.version),
      labels: {
        ...stackLabels(env, pv.model, pv.version),
        ...(floor > 0 ? { [GATE_LABEL]: "true" } : {}),
      },
      annotations: { ...syncWave(WAVE.gates), "wms.example/weight": String(pv.weight) },
    },
    spec: {
      ...(floor > 0 ? { minAvailable: floor } : { maxUnavailable: 1 }),
      selector: { matchLabels: stackSelector(pv.model, pv.version) },
    },
  };
}
