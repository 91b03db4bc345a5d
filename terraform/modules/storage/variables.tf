variable "model_store_bucket" {
  description = "Name of the model store bucket (docs/contracts.md: s3://<bucket>/<model>/<version>/model.onnx, sha256-checked, never overwritten)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.model_store_bucket))
    error_message = "model_store_bucket must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, dashes)."
  }
}

variable "dvc_remote_bucket" {
  description = "Name of the DVC remote bucket (.dvc/config: url = s3://<bucket>/water-meters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.dvc_remote_bucket))
    error_message = "dvc_remote_bucket must be a valid S3 bucket name."
  }
}

variable "mlflow_artifacts_bucket" {
  description = "Name of the bucket MLflow stores run artifacts in (apps/platform/mlflow.yaml artifactRoot.s3.bucket)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.mlflow_artifacts_bucket))
    error_message = "mlflow_artifacts_bucket must be a valid S3 bucket name."
  }
}

variable "access_logs_bucket" {
  description = "Name of the bucket that receives the S3 server access logs of the three buckets above."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_logs_bucket))
    error_message = "access_logs_bucket must be a valid S3 bucket name."
  }
}

variable "model_retention_days" {
  description = "Object Lock default retention (GOVERNANCE mode) of every model in the store, in days: within it no one without s3:BypassGovernanceRetention can delete or replace a published model version that an environment may still pin."
  type        = number
  default     = 365

  validation {
    condition     = var.model_retention_days >= 1 && var.model_retention_days <= 3650
    error_message = "model_retention_days must be between 1 and 3650."
  }
}

variable "noncurrent_version_days" {
  description = "How long superseded object versions in the DVC remote and the MLflow artifact bucket are kept, in days."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "access_log_retention_days" {
  description = "How long S3 server access logs are kept, in days."
  type        = number
  default     = 365

  validation {
    condition     = var.access_log_retention_days >= 30
    error_message = "access_log_retention_days must be at least 30."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
