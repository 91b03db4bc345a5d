/**
 * A version's NetworkPolicies: deny everything, then allow what the server needs. Ingress from
 * the gateway's proxies (inference) and Prometheus (metrics); egress to DNS, the model store
 * (S3) and STS (IRSA); with a shadow, live's pods to the shadow's on the inference port, on both
 * sides. Peers from platform.ts. Pure.
 */
import { AWS_STS, PLATFORM_NAMESPACES } from "../platform.ts";
import { INFERENCE_PORT, METRICS_PORT, versionNamespace } from "./names.ts";
import { type K8sObject, type StackContext, type StackPeers, stackSelector } from "./stack-context.ts";

export function renderNetworkPolicies(ctx: StackContext, peers: StackPeers): K8sObject[] {
  const { env, selector, meta } = ctx;
  const netpol = (name: string, spec: Record<string, unknown>): K8sObject => ({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(name),
    spec,
  });
  const nsSelector = (name: string) => ({
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": name } },
  });
  return [
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
}
