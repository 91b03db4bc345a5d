/**
 * The whole stack of one model version in its own namespace. Pure: typed input in, plain
 * Kubernetes objects out; serialisation and files happen elsewhere.
 *
 * The Namespace and the PodDisruptionBudget (the traffic gate, renderVersionGate) are not part
 * of the stack: they land in the model's folder
 * (<model>-routing, render/index.ts), whose Application outlives the version's. Removing a
 * version from the version file prunes its Namespace there, after the route moved away
 * (PruneLast); deleting a whole environment by mistake deletes no Namespace (the model
 * Applications are create-update only, apps/platform/wms-environments.yaml).
 */
import { serverArgs } from "../../../model/serving-contract.ts";
import type { EnvironmentConfig } from "../config.ts";
import type { PlannedVersion } from "../plan.ts";
import { AWS_STS, PLATFORM_NAMESPACES } from "../platform.ts";
import { mebibytes, milliCpu } from "../quantity.ts";
import { minReplicas, replicaFloor } from "./capacity.ts";
import {
  INFERENCE_PORT,
  LABEL,
  METRICS_PORT,
  routingNamespace,
  versionNamespace,
  versionSlug,
} from "./names.ts";

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

const CARD_MOUNT = "/etc/wms";
const TMP_MOUNT = "/tmp";

const stackSelector = (model: string, version: string) => ({
  [LABEL.name]: model,
  [LABEL.instance]: `${model}-${versionSlug(version)}`,
});

const stackLabels = (env: EnvironmentConfig, model: string, version: string) => ({
  ...stackSelector(model, version),
  [LABEL.version]: version,
  [LABEL.component]: "model-server",
  [LABEL.partOf]: "wms",
  [LABEL.managedBy]: "wms-generator",
  [LABEL.environment]: env.name,
  [LABEL.model]: model,
});

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

export function renderVersionStack(
  env: EnvironmentConfig,
  pv: PlannedVersion,
  peers: StackPeers = {},
): K8sObject[] {
  const { model, version, entry, served } = pv;
  const { card } = entry;
  // the artifact this environment's precision picked (fp32, or the card's int8 variant)
  const artifact = served.artifact;
  const ns = versionNamespace(env, model, version);
  const selector = stackSelector(model, version);
  const labels = stackLabels(env, model, version);
  const meta = (name: string, extra: Partial<K8sObject["metadata"]> = {}) => ({
    name,
    namespace: ns,
    labels,
    ...extra,
  });
  const { requests, limits } = env.resources;
  // One extra pod of headroom so a rolling update (maxSurge 1) fits at max scale.
  const pods = env.replicas.max + 1;

  const quota: K8sObject = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: meta("compute"),
    spec: {
      hard: {
        pods: String(pods),
        "requests.cpu": `${milliCpu(requests.cpu) * pods}m`,
        "requests.memory": `${mebibytes(requests.memory) * pods}Mi`,
        "limits.cpu": `${milliCpu(limits.cpu) * pods}m`,
        "limits.memory": `${mebibytes(limits.memory) * pods}Mi`,
        services: "1",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
        configmaps: "4",
        persistentvolumeclaims: "0",
      },
    },
  };

  const limitRange: K8sObject = {
    apiVersion: "v1",
    kind: "LimitRange",
    metadata: meta("defaults"),
    spec: {
      limits: [
        {
          type: "Container",
          default: { cpu: limits.cpu, memory: limits.memory },
          defaultRequest: { cpu: requests.cpu, memory: requests.memory },
          max: { cpu: limits.cpu, memory: limits.memory },
        },
      ],
    },
  };

  const netpol = (name: string, spec: Record<string, unknown>): K8sObject => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(name),
    spec,
  });
  const nsSelector = (name: string) => ({
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } },
  });
  const networkPolicies = [
    netpol("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    netpol("allow-gateway-to-inference", {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [nsSelector(PLATFORM_NAMESPACES.gatewayProxies)],
          ports: [{ protocol: "TCP", port: INFERENCE_PORT }],
        },
      ],
    }),
    netpol("allow-monitoring-to-metrics", {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [nsSelector(PLATFORM_NAMESPACES.prometheus)],
          ports: [{ protocol: "TCP", port: METRICS_PORT }],
        },
      ],
    }),
    netpol("allow-dns-egress", {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ...nsSelector("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    }),
    netpol("allow-s3-egress", {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [
        {
          to: env.modelStore.egressCIDRs.map((cidr) => ({ ipBlock: { cidr } })),
          ports: [{ protocol: "TCP", port: 443 }],
        },
      ],
    }),
    // live -> shadow: exactly the shadow version's server pods, inference port only
    ...(peers.shadow
      ? [
          netpol("allow-shadow-egress", {
            podSelector: { matchLabels: selector },
            policyTypes: ["Egress"],
            egress: [
              {
                to: [
                  {
                    ...nsSelector(versionNamespace(env, peers.shadow.pv.model, peers.shadow.pv.version)),
                    podSelector: {
                      matchLabels: stackSelector(peers.shadow.pv.model, peers.shadow.pv.version),
                    },
                  },
                ],
                ports: [{ protocol: "TCP", port: INFERENCE_PORT }],
              },
            ],
          }),
        ]
      : []),
    ...(peers.shadowedBy
      ? [
          netpol("allow-live-to-shadow", {
            podSelector: { matchLabels: selector },
            policyTypes: ["Ingress"],
            ingress: [
              {
                from: [
                  {
                    ...nsSelector(versionNamespace(env, peers.shadowedBy.model, peers.shadowedBy.version)),
                    podSelector: {
                      matchLabels: stackSelector(peers.shadowedBy.model, peers.shadowedBy.version),
                    },
                  },
                ],
                ports: [{ protocol: "TCP", port: INFERENCE_PORT }],
              },
            ],
          }),
        ]
      : []),
    // IRSA: the SDK trades the projected token for credentials at STS's interface endpoint.
    netpol("allow-sts-egress", {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: AWS_STS.vpcSupernet } }],
          ports: [{ protocol: "TCP", port: AWS_STS.port }],
        },
      ],
    }),
  ];

  const serviceAccount: K8sObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: meta(model, { annotations: { "eks.amazonaws.com/role-arn": env.modelStore.readRoleArn } }),
    automountServiceAccountToken: false,
  };

  const configMap: K8sObject = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(`${model}-model-card`),
    data: { "model-card.json": `${JSON.stringify(card, null, 2)}\n` },
  };

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
    // the container's limit: the server derives its per-request and in-flight limits from it
    memoryLimitBytes: mebibytes(env.resources.limits.memory) * 2 ** 20,
    shadowUrl: peers.shadow ? versionServiceUrl(env, peers.shadow.pv) : undefined,
    shadowSample: peers.shadow?.sample,
  });
  const probe = (path: string, extra: Record<string, number>) => ({
    httpGet: { path, port: "http" },
    ...extra,
  });
  const deployment: K8sObject = {
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

  const service: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(model),
    spec: {
      type: "ClusterIP",
      selector,
      ports: [
        { name: "http", port: INFERENCE_PORT, targetPort: "http", protocol: "TCP" },
        { name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };

  const hpa: K8sObject = {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: meta(model),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: model },
      // the floor its weight needs, and one more (capacity.ts); the gate waits for the floor
      minReplicas: minReplicas(env, pv.weight),
      maxReplicas: env.replicas.max,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: env.replicas.targetCPUUtilization ?? 70 },
          },
        },
      ],
    },
  };

  const serviceMonitor: K8sObject = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { ...meta(model), labels: { ...labels, ...env.monitoring.serviceMonitorLabels } },
    spec: {
      selector: { matchLabels: selector },
      namespaceSelector: { matchNames: [ns] },
      endpoints: [{ port: "metrics", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
      // Every series carries environment, model and version, so dashboards can compare versions.
      targetLabels: [LABEL.environment, LABEL.model, LABEL.version],
    },
  };

  const referenceGrant: K8sObject = {
    apiVersion: "gateway.networking.k8s.io/v1beta1",
    kind: "ReferenceGrant",
    metadata: meta(`allow-${model}-routing`),
    spec: {
      from: [
        { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: routingNamespace(env, model) },
      ],
      to: [{ group: "", kind: "Service", name: model }],
    },
  };

  return [
    quota,
    limitRange,
    ...networkPolicies,
    serviceAccount,
    configMap,
    deployment,
    service,
    hpa,
    serviceMonitor,
    referenceGrant,
  ];
}
