# Hand-over: the values the GitOps side and the CI configuration need from this stack.

output "ci_role_arn" {
  description = "Set as the GitHub repository variable CI_ROLE_ARN (train.yaml, server-image.yaml)."
  value       = module.iam.ci_role_arn
}

output "model_store_uri" {
  description = "environment.yaml modelStore.uri, and the --store of npm run gen -- publish."
  value       = "s3://${module.storage.model_store_bucket}"

  precondition {
    condition     = alltrue([for env, cfg in local.environment : cfg.modelStore.uri == "s3://${var.model_store_bucket}" && cfg.modelStore.region == var.region])
    error_message = "environments/*/environment.yaml modelStore must be { uri: s3://${var.model_store_bucket}, region: ${var.region} }, the bucket this stack makes."
  }
  precondition {
    condition     = strcontains(local.train_flow, "--store s3://${var.model_store_bucket}")
    error_message = ".github/workflows/train.yaml must publish with --store s3://${var.model_store_bucket}."
  }
}

output "dvc_remote_url" {
  description = "The DVC remote (.dvc/config url)."
  value       = "s3://${module.storage.dvc_remote_bucket}/water-meters"

  precondition {
    condition     = strcontains(local.dvc_config, "url = s3://${var.dvc_remote_bucket}/")
    error_message = ".dvc/config must point its remote at s3://${var.dvc_remote_bucket}/…, the bucket this stack makes."
  }
}

output "mlflow_artifacts_bucket" {
  description = "apps/platform/mlflow.yaml artifactRoot.s3.bucket."
  value       = module.storage.mlflow_artifacts_bucket
}

output "s3_kms_key_arn" {
  description = "KMS key of the three buckets (the environment stacks read it from this state for their IRSA policies)."
  value       = module.storage.kms_key_arn
}

output "ecr_repository_url" {
  description = "Image prefix: environment.yaml server.image is this plus @sha256:<digest>."
  value       = module.ecr.repository_url

  precondition {
    condition     = local.image_flow.env.REPOSITORY == var.ecr_repository && local.image_flow.env.AWS_REGION == var.region
    error_message = ".github/workflows/server-image.yaml must push to ${var.ecr_repository} in ${var.region}."
  }
}

output "model_store_bucket" {
  description = "Name of the model store bucket (read by the environment stacks for their model-reader roles)."
  value       = module.storage.model_store_bucket
}
