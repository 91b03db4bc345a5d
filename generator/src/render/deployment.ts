/**
 * A version's Deployment: the model server's container with the serving contract's arguments
 * (model/serving-contract.ts), restricted security context, probes, the card mounted read-only
 * and a writable /tmp sized for the model. Pure.
 */
import { serverArgs } from "../../../model/serving-contract.ts";
import { mebibytes } from "../quantity.ts";
import { INFERENCE_PORT, METRICS_PORT } from "./names.ts";
import { type K8sObject, type StackContext, type StackPeers, versionServiceUrl } from "./stack-context.ts";

export const CARD_MOUNT = "/etc/wms";
const TMP_MOUNT = "/tmp";

export function renderDeployment(ctx: StackContext, peers: StackPeers): K8sObject {
  const { env, pv, selector, labels, meta } = ctx;
  const { model, served } = pv;
  // the artifact this environment's precision picked (fp32, or the card's int8 variant)
  const artifact = served.artifact;
  const { requests, limits } = env.resources;
  // the serving contract's flags (model/serving-contract.ts), which the server's CLI parses
  const args = serverArgs({
    model: artifact.uri,
    sha256: artifact.sha256,
    card: `${CARD_MOUNT}/model-card.json`,
    // the server alone listens on 127.0.0.1; in the pod the kubelet's probes, the Gateway and
    // Prometheus reach it on the pod's address
    host: "0.0.0.0",
    port: INFERENCE_PORT,
    metricsPort: METRICS_PORT,
    threads: env.server.threads,
    // one session (the server's default) unless the environment asks for more
    instances: (env.server.instances ?? 1) > 1 ? env.server.instances : undefined,
    queue: env.server.queue,
    exactPreprocess: env.server.exactPreprocess === true,
    // the container's limit: the server derives its per-request and in-flight limits from it
    memoryLimitBytes: mebibytes(env.resources.limits.memory) * 2 ** 20,
    shadowUrl: peers.shadow ? versionServiceUrl(env, peers.shadow.pv) : undefined,
    shadowSample: peers.shadow?.sample,
  });
  const probe = (path: string, extra: Record<string, number>) => ({
    httpGet: { path, port: "http" },
    ...extra,
  });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(model, {
      annotations: { "wms.example/model-sha256": artifact.sha256, "wms.example/precision": served.precision },
    }),
    spec: {
      // replicas is left to the HPA, so Argo CD's self-heal and the autoscaler never fight.
      revisionHistoryLimit: 3,
      selector: { matchLabels: selector },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: {
            "wms.example/model-uri": artifact.uri,
            "wms.example/model-sha256": artifact.sha256,
          },
        },
        spec: {
          serviceAccountName: model,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            fsGroup: 10001,
            seccompProfile: { type: "RuntimeDefault" },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "topology.kubernetes.io/zone",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: selector },
            },
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: selector },
            },
          ],
          containers: [
            {
              name: "server",
              image: env.server.image,
              imagePullPolicy: "IfNotPresent",
              args,
              env: [
                { name: "AWS_REGION", value: env.modelStore.region },
                { name: "WMS_ENVIRONMENT", value: env.name },
                { name: "NODE_ENV", value: "production" },
              ],
              ports: [
                { name: "http", containerPort: INFERENCE_PORT, protocol: "TCP" },
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
              ],
              // Loading verifies the sha256 and warms up before /ping turns 200.
              startupProbe: probe("/ping", { periodSeconds: 5, failureThreshold: 60, timeoutSeconds: 2 }),
              readinessProbe: probe("/v2/health/ready", {
                periodSeconds: 5,
                failureThreshold: 2,
                timeoutSeconds: 2,
              }),
              livenessProbe: probe("/v2/health/live", {
                periodSeconds: 10,
                failureThreshold: 3,
                timeoutSeconds: 2,
              }),
              // Give endpoints time to drop the pod before SIGTERM starts the drain.
              lifecycle: { preStop: { sleep: { seconds: 5 } } },
              resources: {
                requests: { cpu: requests.cpu, memory: requests.memory },
                limits: { cpu: limits.cpu, memory: limits.memory },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
              volumeMounts: [
                { name: "model-card", mountPath: CARD_MOUNT, readOnly: true },
                { name: "tmp", mountPath: TMP_MOUNT },
              ],
            },
          ],
          volumes: [
            { name: "model-card", configMap: { name: `${model}-model-card` } },
            {
              name: "tmp",
              emptyDir: { sizeLimit: `${Math.max(256, Math.ceil((artifact.bytes * 2) / 2 ** 20))}Mi` },
            },
          ],
        },
      },
    },
  };
}
