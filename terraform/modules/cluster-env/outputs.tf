# The gitops bridge: an Argo CD cluster secret for this cluster (a spoke's: create it in the
# hub's argocd namespace, label argocd.argoproj.io/secret-type: cluster; the hub's: put its
# annotations on Argo CD's in-cluster cluster secret, the gitops-bridge convention), and the
# values the rendered manifests must name. Preconditions fail the plan when
# environments/<env>/environment.yaml or apps/platform/mlflow.yaml disagree.

locals {
  model_reader_arn = "arn:aws:iam::${var.account_id}:role/wms-${local.env}-model-reader"
  mlflow_role_arn  = "arn:aws:iam::${var.account_id}:role/wms-mlflow"
  mlflow_values    = local.mlflow_app.spec.source.helm.valuesObject
  # The hub is Argo CD's own cluster: in-cluster, which Argo CD reaches without a config.
  destination = local.is_hub ? "in-cluster" : local.cluster_name
}

output "argocd_cluster" {
  description = "Argo CD cluster secret content for this cluster: name, server, config (a spoke's: IRSA via argocd-k8s-auth, no static token; the hub is in-cluster and has none) and metadata annotations for the platform apps (the hub adds MLflow's and Argo CD's)."
  value = merge(
    {
      name   = local.destination
      server = local.is_hub ? "https://kubernetes.default.svc" : module.eks.cluster_endpoint
      metadata = {
        labels = merge({ environment = local.env }, local.is_hub ? { hub = "true" } : {})
        annotations = merge(
          {
            aws_account_id                        = var.account_id
            aws_region                            = var.region
            aws_cluster_name                      = module.eks.cluster_name
            aws_vpc_id                            = module.network.vpc_id
            model_store_uri                       = "s3://${local.shared.model_store_bucket}"
            model_reader_role_arn                 = module.iam.model_reader_role_arn
            s3_prefix_list_id                     = module.network.s3_prefix_list_id
            s3_cidrs                              = join(",", module.network.s3_cidr_blocks)
            vpc_cidr                              = module.network.vpc_cidr
            sts_endpoint_dns                      = module.network.sts_endpoint_dns
            external_secrets_role_arn             = module.iam.platform_role_arns["external_secrets"]
            aws_load_balancer_controller_role_arn = module.iam.platform_role_arns["load_balancer_controller"]
            cert_manager_role_arn                 = module.iam.platform_role_arns["cert_manager"]
            route53_zone_id                       = var.route53_zone_id
            karpenter_role_arn                    = module.iam.platform_role_arns["karpenter"]
            karpenter_node_role_name              = module.eks.karpenter_node_role_name
            karpenter_interruption_queue_name     = module.eks.karpenter_interruption_queue_name
            node_pool_instance_types              = jsonencode(var.node_pool.instance_types)
            node_pool_capacity_type               = var.node_pool.capacity_type
            node_pool_cpu_limit                   = tostring(var.node_pool.cpu_limit)
            node_pool_memory_limit                = "${var.node_pool.memory_limit_gib}Gi"
          },
          local.is_hub ? {
            mlflow_role_arn         = module.iam.mlflow_role_arn
            mlflow_db_host          = module.mlflow_db[0].address
            mlflow_db_port          = tostring(module.mlflow_db[0].port)
            mlflow_db_secret_arn    = module.mlflow_db[0].master_user_secret_arn
            mlflow_artifacts_bucket = local.shared.mlflow_artifacts_bucket
            argocd_role_arn         = module.iam.argocd_hub_role_arn
          } : {},
        )
      }
    },
    local.is_hub ? {} : {
      config = jsonencode({
        awsAuthConfig   = { clusterName = module.eks.cluster_name }
        tlsClientConfig = { caData = module.eks.cluster_certificate_authority_data }
      })
    },
  )

  precondition {
    condition     = local.environment.destination.cluster == local.destination && local.environment.namespacePrefix == local.env
    error_message = "environments/${local.env}/environment.yaml must deploy to destination.cluster ${local.destination} with namespacePrefix ${local.env} (the model reader trusts ${local.env}-wms-* namespaces)."
  }
  precondition {
    condition     = local.environment.modelStore.readRoleArn == local.model_reader_arn
    error_message = "environments/${local.env}/environment.yaml modelStore.readRoleArn must be ${local.model_reader_arn}."
  }
  precondition {
    condition     = local.environment.modelStore.uri == "s3://${local.shared.model_store_bucket}" && local.environment.modelStore.region == var.region
    error_message = "environments/${local.env}/environment.yaml modelStore must be s3://${local.shared.model_store_bucket} in ${var.region}."
  }
  precondition {
    condition     = !local.is_hub || local.mlflow_values.serviceAccount.annotations["eks.amazonaws.com/role-arn"] == local.mlflow_role_arn
    error_message = "apps/platform/mlflow.yaml serviceAccount must be annotated with eks.amazonaws.com/role-arn: ${local.mlflow_role_arn}."
  }
  precondition {
    condition     = !local.is_hub || local.mlflow_values.artifactRoot.s3.bucket == local.shared.mlflow_artifacts_bucket
    error_message = "apps/platform/mlflow.yaml artifactRoot.s3.bucket must be ${local.shared.mlflow_artifacts_bucket}."
  }
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name …)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.eks.cluster_endpoint
}

output "model_reader_role_arn" {
  description = "environment.yaml modelStore.readRoleArn."
  value       = module.iam.model_reader_role_arn
}

output "s3_cidr_blocks" {
  description = "environment.yaml modelStore.egressCIDRs must list these."
  value       = module.network.s3_cidr_blocks
}

output "tags" {
  description = "Tags of every resource of this environment: the calling stack's provider puts them on as default_tags."
  value       = local.tags
}

output "argocd_hub_role_arn" {
  description = "The hub's: annotate Argo CD's service accounts with it (eks.amazonaws.com/role-arn); the spokes grant it cluster access (null on a spoke)."
  value       = module.iam.argocd_hub_role_arn
}

output "nat_public_ips" {
  description = "Egress IPs of this VPC (the hub's: the spokes' API endpoints admit them, so that Argo CD there can reach them)."
  value       = module.network.nat_public_ips
}

output "mlflow_db_secret_arn" {
  description = "The hub's: Secrets Manager secret with MLflow's database credentials (External Secrets source of mlflow-db; null on a spoke)."
  value       = one(module.mlflow_db[*].master_user_secret_arn)
}
