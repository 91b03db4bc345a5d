# staging: prod's shape at a smaller size; one NAT gateway.
account_id   = "111122223333"
region       = "eu-central-1"
state_bucket = "wms-terraform-state-111122223333"

vpc_cidr           = "10.20.0.0/16"
azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
nat_gateway_per_az = false
kubernetes_version = "1.36" # EKS standard support until 2027-08-02 (docs/versions.md)

# System node group: the cluster's platform (terraform/platform-budget.yaml). Nothing
# autoscales it; desired_size only sets the start.
node_group = {
  instance_types = ["m7i.xlarge"]
  min_size       = 2
  desired_size   = 2
  max_size       = 3 # room for a manual resize in an incident
}

# Karpenter NodePool for the model servers: 2-4 replicas of 500m / 768Mi per version;
# live + retained + a canary at max (4) + surge = 15 pods, 7.5 CPU (test/capacity.test.ts).
node_pool = {
  instance_types   = ["m7i.xlarge", "m7i.2xlarge", "m6i.xlarge", "m6i.2xlarge"]
  capacity_type    = "on-demand"
  cpu_limit        = 16
  memory_limit_gib = 64
}

# Public hosted zone of *.example.com: cert-manager's DNS-01 challenges (placeholder: replace).
route53_zone_id = "Z0123456789EXAMPLE0AB"

api_allowed_cidrs = ["198.51.100.0/24"] # office VPN egress (documentation range: replace)
admin_role_arn    = "arn:aws:iam::111122223333:role/wms-platform-admin"
