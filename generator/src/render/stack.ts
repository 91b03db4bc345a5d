/**
 * The whole stack of one model version in its own namespace. Pure: typed input in, plain
 * Kubernetes objects out; serialisation and files happen elsewhere. One concept a module: the
 * Deployment (deployment.ts), the NetworkPolicies (network-policies.ts), and here the rest
 * (quota and limits, identity and card, Service, HPA, ServiceMonitor, ReferenceGrant).
 *
 * The Namespace and the PodDisruptionBudget (the traffic gate, gate.ts) are not part
 * of the stack: they land in the model's folder
 * (<model>-routing, render/index.ts), whose Application outlives the version's. Removing a
 * version from the version file prunes its Namespace there, after the route moved away
 * (PruneLast); deleting a whole environment by mistake deletes no Namespace (the model
 * Applications are create-update only, apps/platform/wms-environments.yaml).
 */
import type { EnvironmentConfig } from "../config.ts";
import type { PlannedVersion } from "../plan.ts";
import { mebibytes, milliCpu } from "../quantity.ts";
import { minReplicas } from "./capacity.ts";
import { renderDeployment } from "./deployment.ts";
import { INFERENCE_PORT, LABEL, METRICS_PORT, routingNamespace } from "./names.ts";
import { renderNetworkPolicies } from "./network-policies.ts";
import { type K8sObject, type StackContext, type StackPeers, stackContext } from "./stack-context.ts";

export function renderVersionStack(
  env: EnvironmentConfig,
  pv: PlannedVersion,
  peers: StackPeers = {},
): K8sObject[] {
  const ctx = stackContext(env, pv);
  return [
    ...renderQuotaAndLimits(ctx),
    ...renderNetworkPolicies(ctx, peers),
    ...renderIdentityAndCard(ctx),
    renderDeployment(ctx, peers),
    ...renderServing(ctx),
  ];
}

/** ResourceQuota and LimitRange: the namespace holds this version's pods and nothing more. */
function renderQuotaAndLimits({ env, meta }: StackContext): K8sObject[] {
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
  return [quota, limitRange];
}

/** ServiceAccount (IRSA: the model store's read role) and the model card's ConfigMap. */
function renderIdentityAndCard({ env, pv, meta }: StackContext): K8sObject[] {
  const { model, entry } = pv;
  const { card } = entry;
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
  return [serviceAccount, configMap];
}

/** Service, HorizontalPodAutoscaler, ServiceMonitor and the ReferenceGrant for the routes. */
function renderServing({ env, pv, ns, selector, labels, meta }: StackContext): K8sObject[] {
  const { model } = pv;
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
  return [service, hpa, serviceMonitor, referenceGrant];
}
