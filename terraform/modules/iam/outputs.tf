output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (null without github_ci)."
  value       = local.github_provider_arn
}

output "ci_role_arn" {
  description = "Role the GitHub workflows assume: set it as the repository variable CI_ROLE_ARN (null without github_ci)."
  value       = one(aws_iam_role.ci[*].arn)
}

output "model_reader_role_arn" {
  description = "IRSA role of the model server (environment.yaml modelStore.readRoleArn; null without model_reader)."
  value       = try(module.irsa_role["model_reader"].arn, null)
}

output "mlflow_role_arn" {
  description = "IRSA role of MLflow (apps/platform/mlflow.yaml serviceAccount annotation; null without mlflow)."
  value       = try(module.irsa_role["mlflow"].arn, null)
}

output "platform_role_arns" {
  description = "IRSA roles of the platform controllers, by component (external_secrets, load_balancer_controller, cert_manager, karpenter): annotate their ServiceAccounts with eks.amazonaws.com/role-arn."
  value       = { for k in keys(local.platform_roles) : k => module.irsa_role[k].arn }
}

output "argocd_hub_role_arn" {
  description = "IRSA role of Argo CD in the hub cluster (annotate its service accounts with it; the spokes' access entries name it; null without argocd_hub)."
  value       = try(module.irsa_role["argocd_hub"].arn, null)
}
