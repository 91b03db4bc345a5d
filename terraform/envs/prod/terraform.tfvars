# prod: three AZs, a NAT gateway in each, at least three nodes (one per AZ) so that the
# model server's replicas (min 3) and their PodDisruptionBudget survive an AZ or a node going.
account_id   = "111122223333"
region       = "eu-central-1"
state_bucket = "wms-terraform-state-111122223333"

vpc_cidr           = "10.30.0.0/16"
azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
nat_gateway_per_az = true
kubernetes_version = "1.32"

# Model server replicas request 1 CPU each, min 3 per version (environment.yaml); live and a
# canary at minimum already take 6 CPUs, so start at 6 nodes. desired_size only sets the start:
# the cluster autoscaler owns it afterwards (modules/eks ignores later changes).
node_group = {
  instance_types = ["m6i.large"]
  min_size       = 3
  max_size       = 12
  desired_size   = 6
}

api_allowed_cidrs = ["198.51.100.0/24"] # office VPN egress (documentation range: replace)
admin_role_arn    = "arn:aws:iam::111122223333:role/wms-platform-admin"
