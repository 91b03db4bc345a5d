# One environment: a VPC and EKS cluster that runs this environment's model versions, and the
# cluster's IRSA roles. A spoke (staging, prod) is deployed to by Argo CD from the hub: the hub's
# Argo CD role gets cluster access through an access entry, and reaches the API over the public
# endpoint, which admits only the hub's NAT IPs and api_allowed_cidrs. The hub (dev, var.hub set)
# runs Argo CD itself (in-cluster), the monitoring stack and MLflow with its database.
# Terraform does not deploy workloads; outputs.tf hands over the rest. Every envs/<env> calls
# this module.

locals {
  env          = var.env
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

  is_hub = var.hub != null
  shared = data.terraform_remote_state.shared.outputs
  # A spoke's view of the hub: Argo CD's role and egress IPs (null on the hub).
  hub = one(data.terraform_remote_state.hub[*].outputs)
}

data "terraform_remote_state" "shared" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = "shared/terraform.tfstate"
    region = var.region
  }
}

# The hub: Argo CD's role and egress IPs (read by the spokes only).
data "terraform_remote_state" "hub" {
  count   = local.is_hub ? 0 : 1
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
  public_access_cidrs    = concat(var.api_allowed_cidrs, local.is_hub ? [] : [for ip in local.hub.nat_public_ips : "${ip}/32"])

  # The system node group; platform pods select it with nodeSelector wms.example/pool: system.
  node_group = merge(var.node_group, { labels = { "wms.example/environment" = local.env, "wms.example/pool" = "system" } })

  access_entries = merge(
    { admins = { principal_arn = var.admin_role_arn } },
    # On a spoke, the hub's Argo CD (role wms-dev-argocd) delivers this cluster's platform (CRDs,
    # controllers, the Gateway) and the <env>-wms-* namespaces; its AppProjects limit what it may sync.
    local.is_hub ? {} : { argocd = { principal_arn = local.hub.argocd_hub_role_arn } },
  )

  tags = local.tags
}

# The hub's MLflow database.
module "mlflow_db" {
  source = "../../modules/rds"
  count  = local.is_hub ? 1 : 0

  identifier                 = "wms-mlflow"
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class             = var.hub.mlflow_db.instance_class
  multi_az                   = var.hub.mlflow_db.multi_az
  allocated_storage_gib      = var.hub.mlflow_db.allocated_storage_gib
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
    model_store_bucket = local.shared.model_store_bucket
    s3_kms_key_arn     = local.shared.s3_kms_key_arn
  }

  # The hub's MLflow; role <cluster>-argocd (wms-dev-argocd) for argocd-application-controller,
  # argocd-applicationset-controller and argocd-server, which the spokes' access entries admit.
  mlflow = local.is_hub ? {
    role_name        = "wms-mlflow"
    namespace        = local.mlflow_app.spec.destination.namespace
    service_account  = "mlflow"
    artifacts_bucket = local.shared.mlflow_artifacts_bucket
    s3_kms_key_arn   = local.shared.s3_kms_key_arn
    db_secret_arn    = module.mlflow_db[0].master_user_secret_arn
    db_kms_key_arn   = module.mlflow_db[0].kms_key_arn
  } : null
  argocd_hub = local.is_hub ? {
    role_name     = "${local.cluster_name}-argocd"
    cluster_names = var.hub.spoke_cluster_names
  } : null

  external_secrets = {
    cluster_name = local.cluster_name
    # MLflow's database credentials (managed by RDS, on the hub) and anything under wms/<env>/.
    secret_arns  = concat(module.mlflow_db[*].master_user_secret_arn, ["arn:aws:secretsmanager:${var.region}:${var.account_id}:secret:wms/${local.env}/*"])
    kms_key_arns = module.mlflow_db[*].kms_key_arn
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
    condition     = !local.is_hub || local.mlflow_app.spec.source.helm.valuesObject.backendStore.postgres.host == one(module.mlflow_db[*].address)
    error_message = "apps/platform/mlflow.yaml backendStore.postgres.host should be ${join("", module.mlflow_db[*].address)}."
  }
}
