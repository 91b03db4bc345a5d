# staging: prod's shape at a smaller size; one NAT gateway.
account_id   = "111122223333"
region       = "eu-central-1"
state_bucket = "wms-terraform-state-111122223333"

vpc_cidr           = "10.20.0.0/16"
azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
nat_gateway_per_az = false
kubernetes_version = "1.32"

# 2-4 model server replicas of 0.5-2 CPU per deployed version, live + canary + retained.
node_group = {
  instance_types = ["m6i.large"]
  min_size       = 2
  max_size       = 6
  desired_size   = 2
}

api_allowed_cidrs = ["198.51.100.0/24"] # office VPN egress (documentation range: replace)
admin_role_arn    = "arn:aws:iam::111122223333:role/wms-platform-admin"
