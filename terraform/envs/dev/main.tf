# dev: the environment and the hub. One VPC and EKS cluster (wms-dev) that runs the dev model
# versions and the platform apps from apps/ (Argo CD, monitoring, MLflow, gateway, policies),
# MLflow's database, and the IRSA roles of the model server, MLflow and Argo CD.
# Terraform stops at infrastructure: Argo CD is installed from apps/argocd and takes over from
# there with the values in outputs.tf (the gitops bridge).

locals {
  env          = "dev"
  cluster_name = "wms-${local.env}"
  tags = {
    project     = "wms"
    managed-by  = "terraform"
    environment = local.env
  }

  # The GitOps side's view of this environment; outputs.tf checks that both agree.
  repo_root   = "${path.module}/../../.."
  environment = yamldecode(file("${local.repo_root}/environments/${local.env}/environment.yaml"))
  mlflow_app  = yamldecode(file("${local.repo_root}/apps/platform/mlflow.yaml"))
}

data "terraform_remote_state" "shared" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "shared/terraform.tfstate"
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
  public_access_cidrs    = var.api_allowed_cidrs

  # The system node group; platform pods select it with nodeSelector wms.example/pool: system.
  node_group = merge(var.node_group, { labels = { "wms.example/environment" = local.env, "wms.example/pool" = "system" } })

  access_entries = {
    admins = { principal_arn = var.admin_role_arn }
  }

  tags = local.tags
}

module "mlflow_db" {
  source = "../../modules/rds"

  identifier                 = "wms-mlflow"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class             = var.mlflow_db.instance_class
  multi_az                   = var.mlflow_db.multi_az
  allocated_storage_gib      = var.mlflow_db.allocated_storage_gib
  database_name              = local.mlflow_app.spec.source.helm.valuesObject.backendStore.postgres.database
  tags                       = local.tags
}

module "iam" {
  source = "../../modules/iam"

  eks_oidc = {
    provider_arn = module.eks.oidc_provider_arn
    issuer       = module.eks.oidc_issuer
  }

  model_reader = {
    environment        = local.env
    model_store_bucket = data.terraform_remote_state.shared.outputs.model_store_bucket
    s3_kms_key_arn     = data.terraform_remote_state.shared.outputs.s3_kms_key_arn
  }

  mlflow = {
    role_name        = "wms-mlflow"
    namespace        = local.mlflow_app.spec.destination.namespace
    service_account  = "mlflow"
    artifacts_bucket = data.terraform_remote_state.shared.outputs.mlflow_artifacts_bucket
    s3_kms_key_arn   = data.terraform_remote_state.shared.outputs.s3_kms_key_arn
    db_secret_arn    = module.mlflow_db.master_user_secret_arn
    db_kms_key_arn   = module.mlflow_db.kms_key_arn
  }

  # Role <cluster>-argocd (wms-dev-argocd) for argocd-application-controller,
  # argocd-applicationset-controller and argocd-server; the spokes' access entries admit it.
  argocd_hub = {
    role_name     = "${local.cluster_name}-argocd"
    cluster_names = ["wms-staging", "wms-prod"]
  }

  external_secrets = {
    cluster_name = local.cluster_name
    # MLflow's database credentials (managed by RDS) and anything under wms/dev/.
    secret_arns  = [module.mlflow_db.master_user_secret_arn, "arn:aws:secretsmanager:${var.region}:${var.account_id}:secret:wms/${local.env}/*"]
    kms_key_arns = [module.mlflow_db.kms_key_arn]
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

# The S3 CIDRs that the rendered NetworkPolicies allow as egress must cover the region's S3
# prefix list, or model downloads time out. Known only after apply, hence a check (warning).
check "networkpolicy_egress_covers_s3" {
  assert {
    condition     = length(setsubtract(module.network.s3_cidr_blocks, local.environment.modelStore.egressCIDRs)) == 0
    error_message = "environments/${local.env}/environment.yaml modelStore.egressCIDRs lacks S3 prefix-list CIDRs: ${join(", ", setsubtract(module.network.s3_cidr_blocks, local.environment.modelStore.egressCIDRs))}. Add them and re-render."
  }
}

check "mlflow_database_host" {
  assert {
    condition     = local.mlflow_app.spec.source.helm.valuesObject.backendStore.postgres.host == module.mlflow_db.address
    error_message = "apps/platform/mlflow.yaml backendStore.postgres.host should be ${module.mlflow_db.address}."
  }
}
