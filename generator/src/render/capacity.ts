/**
 * How many Ready pods a version needs for the share of traffic its weight sends it, and what
 * its autoscaler's floor is. Argo Rollouts' idea (setCanaryScale: the canary runs
 * ceil(stable replicas × weight / 100)), with `replicas.min` of environment.yaml as the pods
 * full traffic needs at its quietest. Pure.
 *
 * The floor is what the traffic gate waits for (render/gate.ts renderVersionGate: a
 * PodDisruptionBudget with minAvailable = floor, in wave 0 of the model app, before the routes
 * in wave 1). A version that takes traffic runs one pod more than its floor (up to
 * replicas.max), so a node drain can evict a pod without the gate's PodDisruptionBudget
 * blocking it, and the floor stays Ready meanwhile.
 */
import type { EnvironmentConfig } from "../config.ts";

/** Ready pods a weight (percent of the model's traffic) needs: 0 for no traffic, at least 1 otherwise. */
export function replicaFloor(env: EnvironmentConfig, weight: number): number {
  if (weight <= 0) return 0;
  return Math.min(env.replicas.max, Math.max(1, Math.ceil((env.replicas.min * weight) / 100)));
}

/** The HorizontalPodAutoscaler's minReplicas for a version with this weight. */
export function minReplicas(env: EnvironmentConfig, weight: number): number {
  if (weight <= 0) return env.replicas.min;
  return Math.min(env.replicas.max, Math.max(env.replicas.min, replicaFloor(env, weight) + 1));
}
