# A spoke environment: one VPC and EKS cluster that runs only this environment's model
# versions, deployed by Argo CD from the hub (the dev cluster). The hub's Argo CD role gets
# cluster access through an access entry, and reaches the API over the public endpoint, which
# admits only the hub's NAT IPs and api_allowed_cidrs. Terraform does not deploy workloads;
# outputs.tf hands over the rest. envs/staging and envs/prod call this module.

locals {
  env          = var.env
  cluster_name = "wms-${local.env}"
  tags = {
    project     = "wms"
    managed-by  = "terraform"
    environment = local.env
  }

  repo_root   = "${path.module}/../../.."
  environment = yamldecode(file("${local.repo_root}/environments/${local.env}/environment.yaml"))

  shared = data.terraform_remote_state.shared.outputs
  hub    = data.terraform_remote_state.hub.outputs
}

data "terraform_remote_state" "shared" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "shared/terraform.tfstate"
    region = var.region
  }
}

# The hub: Argo CD's role and egress IPs.
data "terraform_remote_state" "hub" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "envs/dev/terraform.tfstate"
    region = var.region
  }
}

module "network" {
  source = "../../modules/network"

  name               = local.cluster_name
  cidr               = var.vpc_cidr
  azs                = var.azs
  nat_gateway_per_az = var.nat_gateway_per_az
  cluster_name       = local.cluster_name
  tags               = local.tags
}

module "eks" {
  source = "../../modules/eks"

  name               = local.cluster_name
  kubernetes_version = var.kubernetes_version
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids

  endpoint_public_access = true
  public_access_cidrs    = concat(var.api_allowed_cidrs, [for ip in local.hub.nat_public_ips : "${ip}/32"])

  # The system node group; platform pods select it with nodeSelector wms.example/pool: system.
  node_group = merge(var.node_group, { labels = { "wms.example/environment" = local.env, "wms.example/pool" = "system" } })

  access_entries = {
    admins = { principal_arn = var.admin_role_arn }
    # The hub's Argo CD (role wms-dev-argocd) delivers this cluster's platform (CRDs, controllers,
    # the Gateway) and the <env>-wms-* namespaces; its AppProjects limit what it may sync.
    argocd = { principal_arn = local.hub.argocd_hub_role_arn }
  }

  tags = local.tags
}

module "iam" {
  source = "../../modules/iam"

  eks_oidc = {
    provider_arn = module.eks.oidc_provider_arn
    issuer       = module.eks.oidc_issuer
  }

  model_reader = {
    environment        = local.env
    model_store_bucket = local.shared.model_store_bucket
    s3_kms_key_arn     = local.shared.s3_kms_key_arn
  }

  external_secrets = {
    cluster_name = local.cluster_name
    secret_arns  = ["arn:aws:secretsmanager:${var.region}:${var.account_id}:secret:wms/${local.env}/*"]
  }
  load_balancer_controller = { cluster_name = local.cluster_name }
  cert_manager             = { cluster_name = local.cluster_name, hosted_zone_ids = [var.route53_zone_id] }
  karpenter = {
    cluster_name           = local.cluster_name
    node_role_arn          = module.eks.karpenter_node_role_arn
    interruption_queue_arn = module.eks.karpenter_interruption_queue_arn
  }

  tags = local.tags
}

check "networkpolicy_egress_covers_s3" {
  assert {
    condition     = length(setsubtract(module.network.s3_cidr_blocks, local.environment.modelStore.egressCIDRs)) == 0
    error_message = "environments/${local.env}/environment.yaml modelStore.egressCIDRs lacks S3 prefix-list CIDRs: ${join(", ", setsubtract(module.network.s3_cidr_blocks, local.environment.modelStore.egressCIDRs))}. Add them and re-render."
  }
}
