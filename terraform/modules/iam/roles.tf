# Every IRSA role this module makes, one modules/irsa-role call each: its name, the service
# accounts it trusts, its inline policy (the documents in main.tf and platform.tf). A group left
# null makes no role.

locals {
  platform_service_accounts = {
    external_secrets         = try(tolist(["system:serviceaccount:${var.external_secrets.namespace}:${var.external_secrets.service_account}"]), null)
    load_balancer_controller = try(tolist(["system:serviceaccount:${var.load_balancer_controller.namespace}:${var.load_balancer_controller.service_account}"]), null)
    cert_manager             = try(tolist(["system:serviceaccount:${var.cert_manager.namespace}:${var.cert_manager.service_account}"]), null)
    karpenter                = try(tolist(["system:serviceaccount:${var.karpenter.namespace}:${var.karpenter.service_account}"]), null)
  }
  platform_policies = {
    external_secrets         = one(data.aws_iam_policy_document.external_secrets[*].json)
    load_balancer_controller = one(data.aws_iam_policy_document.load_balancer_controller[*].json)
    cert_manager             = one(data.aws_iam_policy_document.cert_manager[*].json)
    karpenter                = one(data.aws_iam_policy_document.karpenter[*].json)
  }

  irsa_roles = merge(
    { for k, v in {
      model_reader = var.model_reader == null ? null : {
        name             = "wms-${var.model_reader.environment}-model-reader"
        description      = "Model server in ${var.model_reader.environment}: read-only on s3://${var.model_reader.model_store_bucket}"
        service_accounts = tolist(["system:serviceaccount:${var.model_reader.environment}-wms-*:${var.model_reader.service_account}"])
        policy_name      = "read-model-store"
        policy           = one(data.aws_iam_policy_document.model_reader[*].json)
      }
      mlflow = var.mlflow == null ? null : {
        name             = var.mlflow.role_name
        description      = "MLflow server: artifacts in s3://${var.mlflow.artifacts_bucket}, database secret"
        service_accounts = tolist(["system:serviceaccount:${var.mlflow.namespace}:${var.mlflow.service_account}"])
        policy_name      = "artifacts-and-database-secret"
        policy           = one(data.aws_iam_policy_document.mlflow[*].json)
      }
      argocd_hub = var.argocd_hub == null ? null : {
        name             = var.argocd_hub.role_name
        description      = "Argo CD in the hub cluster: the principal the spoke clusters' access entries admit"
        service_accounts = tolist([for sa in var.argocd_hub.service_accounts : "system:serviceaccount:${var.argocd_hub.namespace}:${sa}"])
        policy_name      = "describe-managed-clusters"
        policy           = one(data.aws_iam_policy_document.argocd_hub[*].json)
      }
    } : k => v if v != null },
    { for k, name in local.platform_roles : k => {
      name             = name
      description      = "IRSA role of ${replace(k, "_", " ")} (${name})"
      service_accounts = local.platform_service_accounts[k]
      policy_name      = replace(k, "_", "-")
      policy           = local.platform_policies[k]
    } },
  )
}

module "irsa_role" {
  source   = "../irsa-role"
  for_each = local.irsa_roles

  name             = each.value.name
  description      = each.value.description
  input            = each.key
  eks_oidc         = var.eks_oidc
  service_accounts = each.value.service_accounts
  policy_name      = each.value.policy_name
  policy           = each.value.policy
  tags             = var.tags
}
