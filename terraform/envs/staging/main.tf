# A spoke environment (modules/cluster-env): its own VPC and EKS cluster, deployed to by
# the hub's Argo CD. The sizes are in terraform.tfvars.

locals {
  tags = module.cluster.tags # versions.tf: the provider's default_tags
}

module "cluster" {
  source = "../../modules/cluster-env"

  env                = "staging"
  account_id         = var.account_id
  region             = var.region
  state_bucket       = var.state_bucket
  vpc_cidr           = var.vpc_cidr
  azs                = var.azs
  nat_gateway_per_az = var.nat_gateway_per_az
  kubernetes_version = var.kubernetes_version
  node_group         = var.node_group
  node_pool          = var.node_pool
  route53_zone_id    = var.route53_zone_id
  api_allowed_cidrs  = var.api_allowed_cidrs
  admin_role_arn     = var.admin_role_arn
}
