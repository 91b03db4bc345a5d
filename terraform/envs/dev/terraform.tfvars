# dev: small, and the hub. Its cluster also runs Argo CD (which calls it in-cluster), the
# monitoring stack and MLflow, and Argo CD manages wms-staging and wms-prod from here.
account_id   = "111122223333"
region       = "eu-central-1"
state_bucket = "wms-terraform-state-111122223333"

vpc_cidr           = "10.10.0.0/16"
azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
nat_gateway_per_az = false  # one NAT gateway: an AZ outage may cut dev's egress, which is acceptable
kubernetes_version = "1.36" # EKS standard support until 2027-08-02 (docs/versions.md)

# System node group: Argo CD, Prometheus (with its EBS volume), Grafana, MLflow and the
# cluster platform (terraform/platform-budget.yaml), one node per AZ. Nothing autoscales it;
# desired_size only sets the start.
node_group = {
  instance_types = ["m7i.xlarge"]
  min_size       = 3
  desired_size   = 3
  max_size       = 4 # room for a manual resize in an incident
}

# Karpenter NodePool for the model servers: dev runs 1-2 replicas of 250m / 512Mi per version;
# live + retained + a canary at max (2) + surge = 9 pods, 2250m (test/capacity.test.ts).
node_pool = {
  instance_types   = ["m7i.xlarge", "m7i.2xlarge", "m6i.xlarge", "m6i.2xlarge"]
  capacity_type    = "on-demand"
  cpu_limit        = 8
  memory_limit_gib = 32
}

# Public hosted zone of *.example.com: cert-manager's DNS-01 challenges (placeholder: replace).
route53_zone_id = "Z0123456789EXAMPLE0AB"

api_allowed_cidrs = ["198.51.100.0/24"] # office VPN egress (documentation range: replace)
admin_role_arn    = "arn:aws:iam::111122223333:role/wms-platform-admin"

mlflow_db = {
  instance_class        = "db.t4g.medium"
  multi_az              = true # the only MLflow: its registry and run history matter beyond dev
  allocated_storage_gib = 20
}
