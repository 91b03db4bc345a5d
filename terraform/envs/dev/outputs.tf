# The gitops bridge: what Argo CD and the manifests in this repository need from this stack.
# Preconditions fail the plan when environments/dev/environment.yaml or apps/platform/mlflow.yaml
# name something this stack does not make.

locals {
  model_reader_arn = "arn:aws:iam::${var.account_id}:role/wms-${local.env}-model-reader"
  mlflow_role_arn  = "arn:aws:iam::${var.account_id}:role/wms-mlflow"
  mlflow_values    = local.mlflow_app.spec.source.helm.valuesObject
}

output "argocd_cluster" {
  description = "This cluster as Argo CD sees it (in-cluster), with the metadata the platform apps read: put the annotations on Argo CD's in-cluster cluster secret (gitops-bridge convention)."
  value = {
    name   = "in-cluster"
    server = "https://kubernetes.default.svc"
    metadata = {
      labels = {
        environment = local.env
        hub         = "true"
      }
      annotations = {
        aws_account_id          = var.account_id
        aws_region              = var.region
        aws_cluster_name        = module.eks.cluster_name
        aws_vpc_id              = module.network.vpc_id
        model_store_uri         = "s3://${data.terraform_remote_state.shared.outputs.model_store_bucket}"
        model_reader_role_arn   = module.iam.model_reader_role_arn
        s3_prefix_list_id       = module.network.s3_prefix_list_id
        s3_cidrs                = join(",", module.network.s3_cidr_blocks)
        vpc_cidr                                = module.network.vpc_cidr
        sts_endpoint_dns                        = module.network.sts_endpoint_dns
        external_secrets_role_arn               = module.iam.platform_role_arns["external_secrets"]
        aws_load_balancer_controller_role_arn   = module.iam.platform_role_arns["load_balancer_controller"]
        cert_manager_role_arn                   = module.iam.platform_role_arns["cert_manager"]
        route53_zone_id                         = var.route53_zone_id
        karpenter_role_arn                      = module.iam.platform_role_arns["karpenter"]
        karpenter_node_role_name                = module.eks.karpenter_node_role_name
        karpenter_interruption_queue_name       = module.eks.karpenter_interruption_queue_name
        node_pool_instance_types                = jsonencode(var.node_pool.instance_types)
        node_pool_capacity_type                 = var.node_pool.capacity_type
        node_pool_cpu_limit                     = tostring(var.node_pool.cpu_limit)
        node_pool_memory_limit                  = "${var.node_pool.memory_limit_gib}Gi"
        mlflow_role_arn         = module.iam.mlflow_role_arn
        mlflow_db_host          = module.mlflow_db.address
        mlflow_db_port          = tostring(module.mlflow_db.port)
        mlflow_db_secret_arn    = module.mlflow_db.master_user_secret_arn
        mlflow_artifacts_bucket = data.terraform_remote_state.shared.outputs.mlflow_artifacts_bucket
        argocd_role_arn         = module.iam.argocd_hub_role_arn
      }
    }
  }

  precondition {
    condition     = local.environment.destination.cluster == "in-cluster" && local.environment.namespacePrefix == local.env
    error_message = "environments/${local.env}/environment.yaml must deploy to destination.cluster in-cluster (this hub cluster) with namespacePrefix ${local.env} (the model reader trusts ${local.env}-wms-* namespaces)."
  }
  precondition {
    condition     = local.environment.modelStore.readRoleArn == local.model_reader_arn
    error_message = "environments/${local.env}/environment.yaml modelStore.readRoleArn must be ${local.model_reader_arn}."
  }
  precondition {
    condition     = local.environment.modelStore.uri == "s3://${data.terraform_remote_state.shared.outputs.model_store_bucket}" && local.environment.modelStore.region == var.region
    error_message = "environments/${local.env}/environment.yaml modelStore must be s3://${data.terraform_remote_state.shared.outputs.model_store_bucket} in ${var.region}."
  }
  precondition {
    condition     = local.mlflow_values.serviceAccount.annotations["eks.amazonaws.com/role-arn"] == local.mlflow_role_arn
    error_message = "apps/platform/mlflow.yaml serviceAccount must be annotated with eks.amazonaws.com/role-arn: ${local.mlflow_role_arn}."
  }
  precondition {
    condition     = local.mlflow_values.artifactRoot.s3.bucket == data.terraform_remote_state.shared.outputs.mlflow_artifacts_bucket
    error_message = "apps/platform/mlflow.yaml artifactRoot.s3.bucket must be ${data.terraform_remote_state.shared.outputs.mlflow_artifacts_bucket}."
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

output "argocd_hub_role_arn" {
  description = "Annotate Argo CD's service accounts with it (eks.amazonaws.com/role-arn); the staging and prod stacks grant it cluster access."
  value       = module.iam.argocd_hub_role_arn
}

output "nat_public_ips" {
  description = "Egress IPs of this VPC: the staging and prod API endpoints admit them, so that Argo CD here can reach those clusters."
  value       = module.network.nat_public_ips
}

output "mlflow_db_secret_arn" {
  description = "Secrets Manager secret with MLflow's database credentials (External Secrets source of mlflow-db)."
  value       = module.mlflow_db.master_user_secret_arn
}
