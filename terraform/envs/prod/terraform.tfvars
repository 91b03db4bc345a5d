# prod: three AZs, a NAT gateway in each, at least three nodes (one per AZ) so that the
# model server's replicas (min 3) and their PodDisruptionBudget survive an AZ or a node going.
account_id   = "111122223333"
region       = "eu-central-1"
state_bucket = "wms-terraform-state-111122223333"

vpc_cidr           = "10.30.0.0/16"
azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
nat_gateway_per_az = true
kubernetes_version = "1.36" # EKS standard support until 2027-08-02 (docs/versions.md)

# System node group: the cluster's platform (terraform/platform-budget.yaml), one node per AZ.
# Nothing autoscales it; desired_size only sets the start.
node_group = {
  instance_types = ["m7i.xlarge"]
  min_size       = 3
  desired_size   = 3
  max_size       = 4 # room for a manual resize in an incident
}

# Karpenter NodePool for the model servers: 3-12 replicas of 1 CPU / 1Gi per version;
# live + retained + a canary at max (12) + surge = 39 pods, 39 CPU. With 4-vCPU nodes only
# three such pods fit a node (3690m left after the daemonsets), so 13 nodes = 52 vCPU; 56
# leaves one node for a replacement during consolidation or drift (test/capacity.test.ts).
node_pool = {
  instance_types   = ["m7i.xlarge", "m7i.2xlarge", "m6i.xlarge", "m6i.2xlarge"]
  capacity_type    = "on-demand"
  cpu_limit        = 56
  memory_limit_gib = 224
}

# Public hosted zone of *.example.com: cert-manager's DNS-01 challenges (placeholder: replace).
route53_zone_id = "Z0123456789EXAMPLE0AB"

api_allowed_cidrs = ["198.51.100.0/24"] # office VPN egress (documentation range: replace)
admin_role_arn    = "arn:aws:iam::111122223333:role/wms-platform-admin"
