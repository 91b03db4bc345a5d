import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KUBERNETES_VERSION, knownKinds, validateObjects } from "./index.ts";

type Obj = Record<string, unknown>;

const ns = "wms-prod-wms-1-4-0";
const labels = { "app.kubernetes.io/name": "wms", "app.kubernetes.io/instance": "wms-1-4-0" };
const meta = (name: string, extra: Obj = {}) => ({ name, namespace: ns, labels, ...extra });

const podSpec = {
  serviceAccountName: "wms",
  automountServiceAccountToken: false,
  securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" }, fsGroup: 10001 },
  containers: [
    {
      name: "server",
      image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wms-server@sha256:0123",
      imagePullPolicy: "IfNotPresent",
      args: ["serve", "--port", "8080"],
      env: [
        { name: "WMS_MODEL_SHA256", value: "abc" },
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      ],
      ports: [
        { name: "http", containerPort: 8080, protocol: "TCP" },
        { name: "metrics", containerPort: 8082 },
      ],
      resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi", cpu: 2 } },
      readinessProbe: { httpGet: { path: "/ping", port: "http" }, periodSeconds: 5 },
      livenessProbe: { httpGet: { path: "/v2/health/live", port: 8080 }, failureThreshold: 3 },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      },
      volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
    },
  ],
  volumes: [
    { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
    { name: "card", configMap: { name: "wms-card" } },
  ],
  topologySpreadConstraints: [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels: labels },
    },
  ],
};

const deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: meta("wms-1-4-0"),
  spec: {
    replicas: 2,
    revisionHistoryLimit: 3,
    selector: { matchLabels: labels },
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: "0%" } },
    template: { metadata: { labels, annotations: { "wms/card-sha": "abc" } }, spec: podSpec },
  },
};

const application = {
  apiVersion: "argoproj.io/v1alpha1",
  kind: "Application",
  metadata: {
    name: "prod-wms-1-4-0",
    namespace: "argocd",
    finalizers: ["resources-finalizer.argocd.argoproj.io"],
  },
  spec: {
    project: "wms-prod",
    source: {
      repoURL: "https://github.com/example/wms-gitops.git",
      targetRevision: "main",
      path: "environments/prod/rendered/wms-1.4.0",
      directory: { recurse: false },
    },
    destination: { server: "https://kubernetes.default.svc", namespace: ns },
    syncPolicy: {
      automated: { prune: true, selfHeal: true },
      syncOptions: ["CreateNamespace=false", "ServerSideApply=true"],
      retry: { limit: 5, backoff: { duration: "5s", factor: 2, maxDuration: "3m" } },
    },
    ignoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }],
  },
};

const httpRoute = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name: "wms", namespace: "wms-prod-wms-routing" },
  spec: {
    parentRefs: [{ name: "public", namespace: "gateway", sectionName: "https" }],
    hostnames: ["wms.example.com"],
    rules: [
      {
        matches: [
          { path: { type: "PathPrefix", value: "/" }, headers: [{ name: "x-wms-version", value: "1.5.0" }] },
        ],
        backendRefs: [{ name: "wms", namespace: "wms-prod-wms-1-5-0", port: 8080 }],
      },
      {
        matches: [{ path: { type: "PathPrefix", value: "/" } }],
        backendRefs: [
          { name: "wms", namespace: "wms-prod-wms-1-4-0", port: 8080, weight: 90 },
          { name: "wms", namespace: "wms-prod-wms-1-5-0", port: 8080, weight: 10 },
        ],
        timeouts: { request: "30s" },
      },
    ],
  },
};

const rule = (resources: string[]) => ({ apiGroups: [""], resources, verbs: ["get", "list", "watch"] });
const jobSpec = { backoffLimit: 2, template: { spec: { ...podSpec, restartPolicy: "Never" } } };

/** One valid object of every kind the validator knows; the test below insists on full coverage. */
const samples: Record<string, Obj> = {
  "v1/Namespace": {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns, labels: { ...labels, "pod-security.kubernetes.io/enforce": "restricted" } },
  },
  "v1/ResourceQuota": {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: meta("quota"),
    spec: { hard: { "requests.cpu": "3", "requests.memory": "6Gi", "limits.memory": "12Gi", pods: "6" } },
  },
  "v1/LimitRange": {
    apiVersion: "v1",
    kind: "LimitRange",
    metadata: meta("limits"),
    spec: { limits: [{ type: "Container", default: { memory: "2Gi" }, defaultRequest: { cpu: "500m" } }] },
  },
  "v1/ServiceAccount": {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: meta("wms", { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/wms" } }),
    automountServiceAccountToken: false,
  },
  "v1/ConfigMap": {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta("wms-card"),
    data: { "model-card.json": "{}" },
    immutable: true,
  },
  "v1/Secret": {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta("creds"),
    type: "Opaque",
    stringData: { token: "x" },
    data: { raw: "eA==" },
  },
  "v1/Service": {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta("wms"),
    spec: {
      type: "ClusterIP",
      selector: labels,
      ports: [
        { name: "http", port: 8080, targetPort: "http", protocol: "TCP" },
        { name: "metrics", port: 8082, targetPort: 8082 },
      ],
    },
  },
  "v1/Pod": { apiVersion: "v1", kind: "Pod", metadata: meta("debug"), spec: podSpec },
  "apps/v1/Deployment": deployment,
  "apps/v1/StatefulSet": {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: meta("mlflow"),
    spec: {
      serviceName: "mlflow",
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: podSpec },
    },
  },
  "batch/v1/Job": { apiVersion: "batch/v1", kind: "Job", metadata: meta("smoke"), spec: jobSpec },
  "batch/v1/CronJob": {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta("nightly"),
    spec: { schedule: "0 3 * * *", concurrencyPolicy: "Forbid", jobTemplate: { spec: jobSpec } },
  },
  "autoscaling/v2/HorizontalPodAutoscaler": {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: meta("wms"),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "wms-1-4-0" },
      minReplicas: 2,
      maxReplicas: 5,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
      ],
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: "Pods", value: 1, periodSeconds: 60 }],
        },
      },
    },
  },
  "policy/v1/PodDisruptionBudget": {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta("wms"),
    spec: { maxUnavailable: 1, selector: { matchLabels: labels }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
  },
  "networking.k8s.io/v1/NetworkPolicy": {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta("allow-metrics"),
    spec: {
      podSelector: { matchLabels: labels },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
          ports: [{ protocol: "TCP", port: 8082 }],
        },
      ],
      egress: [
        { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] } }], ports: [{ port: 443 }] },
      ],
    },
  },
  "networking.k8s.io/v1/Ingress": {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: meta("web"),
    spec: {
      ingressClassName: "alb",
      rules: [
        {
          host: "wms.example.com",
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "wms", port: { number: 8080 } } },
              },
            ],
          },
        },
      ],
    },
  },
  "scheduling.k8s.io/v1/PriorityClass": {
    apiVersion: "scheduling.k8s.io/v1",
    kind: "PriorityClass",
    metadata: { name: "wms-serving" },
    value: 1000,
    preemptionPolicy: "Never",
  },
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy": {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: "wms-image-digest" },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ["apps"],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["deployments"],
          },
        ],
      },
      validations: [
        {
          expression: "object.spec.template.spec.containers.all(c, c.image.contains('@sha256:'))",
          message: "images must be pinned by digest",
        },
      ],
    },
  },
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: "wms-image-digest" },
    spec: {
      policyName: "wms-image-digest",
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { "app.kubernetes.io/part-of": "wms" } } },
    },
  },
  "rbac.authorization.k8s.io/v1/Role": {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: meta("reader"),
    rules: [rule(["pods", "services"])],
  },
  "rbac.authorization.k8s.io/v1/RoleBinding": {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: meta("reader"),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
    subjects: [{ kind: "ServiceAccount", name: "wms", namespace: ns }],
  },
  "rbac.authorization.k8s.io/v1/ClusterRole": {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "wms-status" },
    rules: [rule(["namespaces"])],
  },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "wms-status" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "wms-status" },
    subjects: [{ kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "wms-viewers" }],
  },
  "monitoring.coreos.com/v1/ServiceMonitor": {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: meta("wms", { labels: { ...labels, release: "kube-prometheus-stack" } }),
    spec: {
      selector: { matchLabels: labels },
      namespaceSelector: { matchNames: [ns] },
      endpoints: [{ port: "metrics", path: "/metrics", interval: "15s", scrapeTimeout: "10s" }],
    },
  },
  "monitoring.coreos.com/v1/PodMonitor": {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PodMonitor",
    metadata: meta("wms"),
    spec: { selector: { matchLabels: labels }, podMetricsEndpoints: [{ port: "metrics" }] },
  },
  "monitoring.coreos.com/v1/PrometheusRule": {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "wms", namespace: "monitoring", labels: { release: "kube-prometheus-stack" } },
    spec: {
      groups: [
        {
          name: "wms.rules",
          interval: "30s",
          rules: [
            { record: "wms:request_rate:5m", expr: "sum(rate(wms_requests_total[5m])) by (version)" },
            {
              alert: "WmsHighErrorRate",
              expr: "wms:error_ratio:5m > 0.05",
              for: "10m",
              labels: { severity: "page" },
              annotations: { summary: "wms {{ $labels.version }} fails {{ $value | humanizePercentage }}" },
            },
          ],
        },
      ],
    },
  },
  "gateway.networking.k8s.io/v1/GatewayClass": {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GatewayClass",
    metadata: { name: "envoy" },
    spec: { controllerName: "gateway.envoyproxy.io/gatewayclass-controller" },
  },
  "gateway.networking.k8s.io/v1/Gateway": {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "public", namespace: "gateway" },
    spec: {
      gatewayClassName: "envoy",
      listeners: [
        {
          name: "https",
          protocol: "HTTPS",
          port: 443,
          hostname: "*.example.com",
          tls: { mode: "Terminate", certificateRefs: [{ kind: "Secret", name: "wildcard-tls" }] },
          allowedRoutes: {
            namespaces: {
              from: "Selector",
              selector: { matchLabels: { "app.kubernetes.io/part-of": "wms" } },
            },
          },
        },
      ],
    },
  },
  "gateway.networking.k8s.io/v1/HTTPRoute": httpRoute,
  "gateway.networking.k8s.io/v1beta1/ReferenceGrant": {
    apiVersion: "gateway.networking.k8s.io/v1beta1",
    kind: "ReferenceGrant",
    metadata: { name: "from-routing", namespace: "wms-prod-wms-1-4-0" },
    spec: {
      from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "wms-prod-wms-routing" }],
      to: [{ group: "", kind: "Service", name: "wms" }],
    },
  },
  "argoproj.io/v1alpha1/Application": application,
  "argoproj.io/v1alpha1/ApplicationSet": {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "ApplicationSet",
    metadata: { name: "wms-rendered", namespace: "argocd" },
    spec: {
      goTemplate: true,
      goTemplateOptions: ["missingkey=error"],
      generators: [
        {
          git: {
            repoURL: "https://github.com/example/wms-gitops.git",
            revision: "main",
            directories: [{ path: "environments/*/rendered/*" }],
          },
        },
      ],
      template: {
        metadata: {
          name: "{{ index .path.segments 1 }}-{{ .path.basename }}",
          labels: { environment: "{{ index .path.segments 1 }}" },
        },
        spec: {
          project: "wms-{{ index .path.segments 1 }}",
          source: {
            repoURL: "https://github.com/example/wms-gitops.git",
            targetRevision: "main",
            path: "{{ .path.path }}",
          },
          destination: { server: "https://kubernetes.default.svc" },
          syncPolicy: { automated: { prune: true, selfHeal: true } },
        },
      },
      syncPolicy: { preserveResourcesOnDeletion: false },
    },
  },
  "argoproj.io/v1alpha1/AppProject": {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AppProject",
    metadata: { name: "wms-prod", namespace: "argocd" },
    spec: {
      description: "wms in prod",
      sourceRepos: ["https://github.com/example/wms-gitops.git"],
      destinations: [{ server: "https://kubernetes.default.svc", namespace: "wms-prod-*" }],
      clusterResourceWhitelist: [{ group: "", kind: "Namespace" }],
      namespaceResourceBlacklist: [{ group: "", kind: "ResourceQuota" }],
      orphanedResources: { warn: true },
    },
  },
};

const check = (object: Obj) => validateObjects([{ file: "rendered/x.yaml", index: 0, object }]);

// biome-ignore lint/suspicious/noExplicitAny: edits reach into arbitrary manifest shapes
type Loose = any;
type Edit = (o: Loose) => void;

/** Deep copy of `base` with `edit` applied, so each case states only what it breaks. */
function broken(base: Obj, edit: Edit): Obj {
  const copy = structuredClone(base);
  edit(copy);
  return copy;
}

describe("validateObjects", () => {
  it("pins the Kubernetes version and covers every kind the platform renders", () => {
    expect(KUBERNETES_VERSION).toMatch(/^1\.\d+$/); // which minor: pins.test.ts
    expect(knownKinds()).toEqual(expect.arrayContaining(Object.keys(samples)));
  });

  it("uses schemas in which every object with declared fields is closed (kubeconform -strict)", () => {
    let closed = 0;
    const open: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (!node || typeof node !== "object") return;
      const s = node as Obj;
      // `properties` is a map of field name → schema, not a schema itself.
      if (s.properties && typeof s.properties === "object" && !Array.isArray(s.properties)) {
        if (s.additionalProperties === undefined) open.push(path);
        else closed++;
      }
      for (const [k, v] of Object.entries(s)) walk(v, `${path}/${k}`);
    };
    const dir = new URL("../../schemas/k8s/", import.meta.url);
    const docs = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "index.json");
    expect(docs).toEqual(expect.arrayContaining(["kubernetes.json", "argo-cd.json", "gateway-api.json"]));
    for (const doc of docs) walk(JSON.parse(readFileSync(new URL(doc, dir), "utf8")), doc);
    expect(open).toEqual([]);
    expect(closed).toBeGreaterThan(300);
  });

  it.each(Object.keys(samples))("accepts a valid %s", (key) => {
    expect(check(samples[key] as Obj)).toEqual([]);
  });

  it("validates many objects in one call and names file and object in each problem", () => {
    const problems = validateObjects([
      { file: "a.yaml", index: 0, object: deployment },
      { file: "b.yaml", index: 1, object: broken(deployment, (d) => (d.spec.paused = "yes")) },
      { file: "c.yaml", index: 2, object: broken(httpRoute, (r) => (r.spec.hostname = "x")) },
    ]);
    expect(problems.map((p) => [p.file, p.field])).toEqual([
      ["b.yaml", "Deployment/wms-1-4-0 spec.paused"],
      ["c.yaml", "HTTPRoute/wms spec.hostname"],
    ]);
  });

  describe("unknown fields are rejected wherever they are", () => {
    it.each<[string, Obj, Edit, string]>([
      [
        "in a container",
        deployment,
        (d) => (d.spec.template.spec.containers[0].imagePullPolicyy = "Always"),
        "Deployment/wms-1-4-0 spec.template.spec.containers[0].imagePullPolicyy",
      ],
      [
        "in a probe",
        deployment,
        (d) => (d.spec.template.spec.containers[0].readinessProbe.httpGet.paht = "/"),
        "Deployment/wms-1-4-0 spec.template.spec.containers[0].readinessProbe.httpGet.paht",
      ],
      [
        "in an HTTPRoute backendRef",
        httpRoute,
        (r) => (r.spec.rules[1].backendRefs[1].wieght = 10),
        "HTTPRoute/wms spec.rules[1].backendRefs[1].wieght",
      ],
      [
        "in an Application syncPolicy",
        application,
        (a) => (a.spec.syncPolicy.automated.selfheal = true),
        "Application/prod-wms-1-4-0 spec.syncPolicy.automated.selfheal",
      ],
      ["at the top level", samples["v1/ConfigMap"] as Obj, (c) => (c.spec = {}), "ConfigMap/wms-card spec"],
      [
        "in metadata",
        samples["monitoring.coreos.com/v1/ServiceMonitor"] as Obj,
        (s) => (s.metadata.label = {}),
        "ServiceMonitor/wms metadata.label",
      ],
      [
        "in a ServiceMonitor endpoint",
        samples["monitoring.coreos.com/v1/ServiceMonitor"] as Obj,
        (s) => (s.spec.endpoints[0].scrapeInterval = "15s"),
        "ServiceMonitor/wms spec.endpoints[0].scrapeInterval",
      ],
      [
        "in a ValidatingAdmissionPolicy validation",
        samples["admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"] as Obj,
        (p) => (p.spec.validations[0].severity = "high"),
        "ValidatingAdmissionPolicy/wms-image-digest spec.validations[0].severity",
      ],
    ])("%s", (_, base, edit, field) => {
      const problems = check(broken(base, edit));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ file: "rendered/x.yaml", field });
      expect(problems[0]?.message).toMatch(/^unknown field "/);
      expect(problems[0]?.hint).toMatch(/allows: /);
    });

    it("but maps stay open: labels, annotations, ConfigMap data, Helm valuesObject", () => {
      const app = broken(application, (a) => {
        a.metadata.annotations = { "anything/goes": "yes" };
        a.spec.source = { repoURL: "https://charts.example.com", chart: "x", targetRevision: "1.0.0" };
        a.spec.source.helm = { valuesObject: { any: { nested: ["shape"] } } };
      });
      expect(check(app)).toEqual([]);
    });
  });

  it("rejects wrong types, with the expected and the actual type", () => {
    const problems = check(
      broken(deployment, (d) => {
        d.spec.replicas = "2";
        d.spec.template.spec.containers[0].ports[0].containerPort = 80.5;
        d.spec.strategy.rollingUpdate.maxSurge = true;
      }),
    );
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ["Deployment/wms-1-4-0 spec.replicas", "expected integer, got string"],
      [
        "Deployment/wms-1-4-0 spec.strategy.rollingUpdate.maxSurge",
        "expected integer or string, got boolean",
      ],
      [
        "Deployment/wms-1-4-0 spec.template.spec.containers[0].ports[0].containerPort",
        "expected integer, got number",
      ],
    ]);
  });

  it("rejects integers outside their format's range", () => {
    const problems = check(broken(deployment, (d) => (d.spec.replicas = 2 ** 40)));
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ["Deployment/wms-1-4-0 spec.replicas", "must be a valid int32, got 1099511627776"],
    ]);
  });

  it("rejects wrong types in custom resources too", () => {
    const problems = check(broken(httpRoute, (r) => (r.spec.rules[1].backendRefs[0].port = "8080")));
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ["HTTPRoute/wms spec.rules[1].backendRefs[0].port", "expected integer, got string"],
    ]);
  });

  it("rejects custom-resource values outside the upstream limits (range, pattern, list size)", () => {
    const problems = check(
      broken(httpRoute, (r) => {
        r.spec.rules[1].backendRefs[0].port = 70000;
        r.spec.hostnames = ["Bad_Host"];
        r.spec.rules[1].backendRefs[1].weight = 1.5;
        r.spec.parentRefs[0].name = "";
      }),
    );
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ["HTTPRoute/wms spec.hostnames[0]", expect.stringMatching(/^must match pattern .*, got "Bad_Host"$/)],
      ["HTTPRoute/wms spec.parentRefs[0].name", 'must NOT have fewer than 1 characters, got ""'],
      ["HTTPRoute/wms spec.rules[1].backendRefs[0].port", "must be <= 65535, got 70000"],
      ["HTTPRoute/wms spec.rules[1].backendRefs[1].weight", "expected integer, got number"],
    ]);
    const tooMany = broken(httpRoute, (r) => {
      r.spec.rules = Array.from({ length: 17 }, () => r.spec.rules[0]);
    });
    expect(check(tooMany).map((p) => p.message)).toEqual(["must NOT have more than 16 items"]);
  });

  it("rejects values outside an enum", () => {
    const problems = check(broken(httpRoute, (r) => (r.spec.rules[0].matches[0].path.type = "Prefix")));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.field).toBe("HTTPRoute/wms spec.rules[0].matches[0].path.type");
    expect(problems[0]?.message).toContain('"PathPrefix"');
  });

  it.each<[string, Obj, Edit, string]>([
    ["Deployment without spec.selector", deployment, (d) => delete d.spec.selector, "spec.selector"],
    [
      "container without a name",
      deployment,
      (d) => delete d.spec.template.spec.containers[0].name,
      "spec.template.spec.containers[0].name",
    ],
    [
      "Application without spec.destination",
      application,
      (a) => delete a.spec.destination,
      "spec.destination",
    ],
    [
      "HTTPRoute backendRef without a name",
      httpRoute,
      (r) => delete r.spec.rules[0].backendRefs[0].name,
      "spec.rules[0].backendRefs[0].name",
    ],
  ])("rejects a missing required field: %s", (_, base, edit, path) => {
    const problems = check(broken(base, edit));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.field).toMatch(new RegExp(` ${path.replace(/[.[\]]/g, "\\$&")}$`));
    expect(problems[0]?.message).toMatch(/^missing required field "/);
  });

  it("rejects an apiVersion that does not match the kind", () => {
    const problems = check({ ...deployment, apiVersion: "apps/v1beta1" });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toBe('no schema for apiVersion "apps/v1beta1", kind "Deployment"');
    expect(problems[0]?.hint).toBe("Deployment is known as apps/v1");
  });

  it("rejects an unknown kind, and an object without apiVersion/kind", () => {
    const problems = validateObjects([
      {
        file: "x.yaml",
        index: 0,
        object: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } },
      },
      { file: "x.yaml", index: 1, object: { metadata: { name: "nothing" } } },
    ]);
    expect(problems.map((p) => [p.field, p.message])).toEqual([
      ["Widget/w apiVersion/kind", 'no schema for apiVersion "example.com/v1", kind "Widget"'],
      ["?/nothing apiVersion/kind", 'no schema for apiVersion "undefined", kind "undefined"'],
    ]);
  });

  it("stays well under a millisecond per object once warm", () => {
    const objects = Object.values(samples).map((object, index) => ({ file: "x.yaml", index, object }));
    validateObjects(objects); // compile every kind once
    const rounds = 100;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) validateObjects(objects);
    const perObject = (performance.now() - start) / (rounds * objects.length);
    console.log(
      `validateObjects: ${(perObject * 1000).toFixed(1)} µs per object (${objects.length} kinds, warm)`,
    );
    expect(perObject).toBeLessThan(1);
  });
});

describe("custom resources of the platform components (from their CRDs)", () => {
  const nodePool: Obj = {
    apiVersion: "karpenter.sh/v1",
    kind: "NodePool",
    metadata: { name: "default" },
    spec: {
      template: {
        spec: {
          nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: "default" },
          requirements: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }],
          expireAfter: "720h",
        },
      },
      limits: { cpu: "96", memory: "384Gi" },
      disruption: { consolidationPolicy: "WhenEmptyOrUnderutilized", consolidateAfter: "5m" },
    },
  };
  const issuer: Obj = {
    apiVersion: "cert-manager.io/v1",
    kind: "ClusterIssuer",
    metadata: { name: "letsencrypt" },
    spec: {
      acme: {
        server: "https://acme-v02.api.letsencrypt.org/directory",
        privateKeySecretRef: { name: "letsencrypt-account-key" },
        solvers: [{ dns01: { route53: { region: "eu-central-1" } } }],
      },
    },
  };
  const store: Obj = {
    apiVersion: "external-secrets.io/v1",
    kind: "ClusterSecretStore",
    metadata: { name: "aws-secrets-manager" },
    spec: { provider: { aws: { service: "SecretsManager", region: "eu-central-1" } } },
  };

  it.each([nodePool, issuer, store])("accepts a valid $kind", (object) => {
    expect(check(object)).toEqual([]);
  });

  it("closes their objects: an unknown field is an error at any depth, and in metadata", () => {
    const fields = (o: Obj) => check(o).map((p) => [p.field, p.message]);
    expect(fields(broken(issuer, (i) => (i.spec.acme.solvers[0].dns01.route53.regoin = "x")))).toEqual([
      ["ClusterIssuer/letsencrypt spec.acme.solvers[0].dns01.route53.regoin", 'unknown field "regoin"'],
    ]);
    expect(fields(broken(store, (s) => (s.metadata.annotation = {})))).toEqual([
      ["ClusterSecretStore/aws-secrets-manager metadata.annotation", 'unknown field "annotation"'],
    ]);
  });

  it("applies their enums, and reads quantities as integer or string", () => {
    expect(check(broken(nodePool, (n) => (n.spec.limits.cpu = 96)))).toEqual([]);
    const problems = check(broken(nodePool, (n) => (n.spec.disruption.consolidationPolicy = "Sometimes")));
    expect(problems.map((p) => p.field)).toEqual(["NodePool/default spec.disruption.consolidationPolicy"]);
    expect(problems[0]?.message).toContain('"WhenEmptyOrUnderutilized"');
    expect(check(broken(nodePool, (n) => (n.spec.limits.cpu = true))).map((p) => p.message)).toEqual([
      "expected integer or string, got boolean",
    ]);
  });
});
