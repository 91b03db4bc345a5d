# The gitops bridge: an Argo CD cluster secret for this cluster (create it in the hub's argocd
# namespace, label argocd.argoproj.io/secret-type: cluster), and the values the rendered
# manifests must name. Preconditions fail the plan when environment.yaml disagrees.

locals {
  model_reader_arn = "arn:aws:iam::${var.account_id}:role/wms-${local.env}-model-reader"
}

output "argocd_cluster" {
  description = "Argo CD cluster secret content for this cluster: name, server, config (IRSA via argocd-k8s-auth, no static token) and metadata annotations for the platform apps."
  value = {
    name   = module.eks.cluster_name
    server = module.eks.cluster_endpoint
    config = jsonencode({
      awsAuthConfig   = { clusterName = module.eks.cluster_name }
      tlsClientConfig = { caData = module.eks.cluster_certificate_authority_data }
    })
    metadata = {
      labels = {
        environment = local.env
      }
      annotations = {
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
      }
    }
  }

  precondition {
    condition     = local.environment.destination.cluster == local.cluster_name && local.environment.namespacePrefix == local.env
    error_message = "environments/${local.env}/environment.yaml must deploy to destination.cluster ${local.cluster_name} with namespacePrefix ${local.env} (the model reader trusts ${local.env}-wms-* namespaces)."
  }
  precondition {
    condition     = local.environment.modelStore.readRoleArn == local.model_reader_arn
    error_message = "environments/${local.env}/environment.yaml modelStore.readRoleArn must be ${local.model_reader_arn}."
  }
  precondition {
    condition     = local.environment.modelStore.uri == "s3://${local.shared.model_store_bucket}" && local.environment.modelStore.region == var.region
    error_message = "environments/${local.env}/environment.yaml modelStore must be s3://${local.shared.model_store_bucket} in ${var.region}."
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
