# dev: the environment and the hub (modules/cluster-env with hub set). One VPC and EKS cluster
# (wms-dev) that runs the dev model versions and the platform apps from apps/ (Argo CD,
# monitoring, MLflow, gateway, policies), MLflow's database, and the IRSA roles of the model
# server, MLflow and Argo CD. Terraform stops at infrastructure: Argo CD is installed from
# apps/argocd and takes over from there with the values in outputs.tf (the gitops bridge).
# The sizes are in terraform.tfvars.

locals {
  tags = module.cluster.tags # versions.tf: the provider's default_tags
}

module "cluster" {
  source = "../../modules/cluster-env"

  env                = "dev"
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

  hub = {
    spoke_cluster_names = ["wms-staging", "wms-prod"]
    mlflow_db           = var.mlflow_db
  }
}
