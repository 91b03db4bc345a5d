/**
 * Where the platform's shared components run, as the pinned releases and terraform/ make them:
 * the one place the rendered NetworkPolicies take their peers from (render/network-policies.ts), and what
 * test/network-policy.test.ts checks against apps/ and terraform/.
 */

/**
 * Namespaces of the platform pods that connect to a model server.
 *
 * - `gatewayProxies`: Envoy Gateway v1.9.1 (apps/: chart gateway-helm) runs the Envoy proxy
 *   Deployments of every Gateway in its own controller namespace (the default
 *   `provider.kubernetes.deploy.type: ControllerNamespace`), i.e. the namespace the chart is
 *   installed into: envoy-gateway-system. The Gateway object itself lives in `gateway`
 *   (environment.yaml gateway.namespace), but no pod runs there.
 * - `prometheus`: kube-prometheus-stack's Prometheus (apps/: chart kube-prometheus-stack),
 *   installed into `monitoring`, scrapes the metrics port.
 * - `argocd`: Argo CD v3.5.9's install manifests (apps/argocd), namespace `argocd`.
 */
export const PLATFORM_NAMESPACES = {
  gatewayProxies: "envoy-gateway-system",
  prometheus: "monitoring",
  argocd: "argocd",
} as const;

/**
 * AWS STS as the model server reaches it for IRSA (AssumeRoleWithWebIdentity, before its first
 * S3 call). terraform/modules/network creates an STS interface endpoint with private DNS in
 * every VPC, so the regional name `sts.<region>.amazonaws.com` (what the AWS SDK for
 * JavaScript v3 calls) resolves to the endpoint's network interfaces in the VPC's private
 * subnets. Kubernetes NetworkPolicies cannot name hosts, so the egress rule allows HTTPS to
 * the block every platform VPC is carved from: the network module refuses a VPC CIDR outside
 * it (variable `cidr` validation), so the rule covers each environment's endpoint.
 */
export const AWS_STS = {
  vpcSupernet: "10.0.0.0/8",
  port: 443,
  hostname: (region: string) => `sts.${region}.amazonaws.com`,
} as const;
