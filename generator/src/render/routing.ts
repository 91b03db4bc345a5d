/**
 * The routes in the model's folder (<model>-routing, which also holds every version's
 * Namespace: render/index.ts) of one environment: an HTTPRoute on the shared Gateway that
 * splits traffic between live and canary by weight. Where the environment turns on
 * `routing.versionHeaderRoutes` (dev, staging), every deployed version (retained ones too) can
 * also be reached on purpose with the header `x-wms-version: <version>`, which is how smoke
 * tests hit a canary or a retained version before it gets traffic. Off (the default, prod),
 * no client can pick a version: only the weighted split exists.
 */
import type { EnvironmentConfig } from "../config.ts";
import type { ModelPlan } from "../plan.ts";
import { syncWave, WAVE } from "./gate.ts";
import { INFERENCE_PORT, LABEL, routingNamespace, versionNamespace, versionSlug } from "./names.ts";
import type { K8sObject } from "./stack-context.ts";

export const VERSION_HEADER = "x-wms-version";

export function renderRouting(env: EnvironmentConfig, plan: ModelPlan): K8sObject[] {
  const ns = routingNamespace(env, plan.model);
  const labels = {
    [LABEL.name]: plan.model,
    [LABEL.component]: "routing",
    [LABEL.partOf]: "wms",
    [LABEL.managedBy]: "wms-generator",
    [LABEL.environment]: env.name,
    [LABEL.model]: plan.model,
  };
  const backend = (version: string, weight?: number) => ({
    group: "",
    kind: "Service",
    name: plan.model,
    namespace: versionNamespace(env, plan.model, version),
    port: INFERENCE_PORT,
    weight,
  });
  const paths = [`/predictions/${plan.model}`, `/v2/models/${plan.model}`, "/v2/health"];
  const serving = plan.versions.filter((v) => v.weight > 0);

  // wave 1: after every serving version's gate (wave 0) is Healthy (stack.ts renderVersionGate)
  const route = (name: string, rules: unknown[], annotations?: Record<string, string>): K8sObject => ({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: ns, labels, annotations: { ...syncWave(WAVE.routes), ...annotations } },
    spec: {
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: env.gateway.name,
          namespace: env.gateway.namespace,
          sectionName: env.gateway.sectionName,
        },
      ],
      hostnames: [env.gateway.hostname],
      rules,
    },
  });
  // The weighted split. One route per pinned version (below) rather than one rule each keeps
  // us clear of the 16-rules-per-route limit however many versions are retained; the Gateway
  // merges routes on the same hostname and a header match wins over a path-only match.
  const weighted = route(
    plan.model,
    [
      {
        matches: paths.map((value) => ({ path: { type: "PathPrefix", value } })),
        backendRefs: serving.map((v) => backend(v.version, v.weight)),
      },
    ],
    {
      "wms.example/live": serving.find((v) => v.role === "live")?.version ?? "",
      "wms.example/canary": serving.find((v) => v.role === "canary")?.version ?? "",
    },
  );
  const pinned = (env.routing?.versionHeaderRoutes ? plan.versions : []).map((v) =>
    route(`${plan.model}-${versionSlug(v.version)}`, [
      {
        matches: paths.map((value) => ({
          path: { type: "PathPrefix", value },
          headers: [{ type: "Exact", name: VERSION_HEADER, value: v.version }],
        })),
        backendRefs: [backend(v.version)],
      },
    ]),
  );

  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ns,
        annotations: syncWave(WAVE.namespaces),
        labels: {
          ...labels,
          "wms.example/routing": "true",
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    },
    weighted,
    ...pinned,
  ];
}
