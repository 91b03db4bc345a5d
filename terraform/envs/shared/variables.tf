variable "account_id" {
  description = "AWS account that holds the platform (every ARN in environments/*/environment.yaml names it)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "region" {
  description = "AWS region of the platform (environment.yaml modelStore.region)."
  type        = string
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose main-branch workflows may publish models and push images."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider (false if another stack already made it: an account can hold only one per URL)."
  type        = bool
  default     = true
}

variable "model_store_bucket" {
  description = "Model store bucket name (s3://wms-models in environment.yaml and the workflows)."
  type        = string
}

variable "dvc_remote_bucket" {
  description = "DVC remote bucket name (.dvc/config)."
  type        = string
}

variable "mlflow_artifacts_bucket" {
  description = "MLflow artifact bucket name (apps/platform/mlflow.yaml)."
  type        = string
}

variable "access_logs_bucket" {
  description = "Bucket for the S3 access logs of the three buckets above."
  type        = string
}

variable "ecr_repository" {
  description = "ECR repository of the model server image (server-image.yaml env.REPOSITORY)."
  type        = string
}

variable "ci_role_name" {
  description = "Name of the role GitHub Actions assumes (its ARN goes into the repository variable CI_ROLE_ARN)."
  type        = string
  default     = "wms-github-ci"
}
