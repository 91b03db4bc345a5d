# Each of the four role groups is optional (null = not created), so that one module serves the
# account-wide configuration (GitHub CI) and the per-cluster ones (IRSA roles).

variable "github_ci" {
  description = "GitHub Actions OIDC provider and the CI role its workflows assume (vars.CI_ROLE_ARN): publish models (write-once) to the model store, read the DVC remote, push server images to one ECR repository. Only runs on the given branch of the given repository may assume it. null: not created."
  type = object({
    role_name            = string
    repository           = string # owner/name
    branch               = optional(string, "main")
    create_oidc_provider = optional(bool, true) # false where the account already has token.actions.githubusercontent.com
    model_store_bucket   = string
    dvc_remote_bucket    = string
    ecr_repository_arn   = string
    s3_kms_key_arn       = string
  })
  default = null

  validation {
    condition     = var.github_ci == null || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_ci.repository))
    error_message = "github_ci.repository must be owner/name, without wildcards (e.g. example-org/wms-gitops)."
  }

  validation {
    condition     = var.github_ci == null || can(regex("^[A-Za-z0-9._/-]+$", var.github_ci.branch))
    error_message = "github_ci.branch must be one branch name, without wildcards: only that branch's runs may publish."
  }
}

variable "eks_oidc" {
  description = "The cluster's IRSA identity provider (eks module outputs oidc_provider_arn and oidc_issuer). Required by model_reader, mlflow and argocd_hub."
  type = object({
    provider_arn = string
    issuer       = string # without https://
  })
  default = null

  validation {
    condition     = !startswith(try(var.eks_oidc.issuer, ""), "https://")
    error_message = "eks_oidc.issuer must be given without https:// (it prefixes the IRSA condition keys)."
  }
}

variable "model_reader" {
  description = "IRSA role wms-<environment>-model-reader: read-only on the model store, for the ServiceAccount `service_account` in the namespaces <environment>-wms-* (what the generator renders; environment.yaml modelStore.readRoleArn). null: not created."
  type = object({
    environment        = string
    model_store_bucket = string
    s3_kms_key_arn     = string
    service_account    = optional(string, "wms")
  })
  default = null

  validation {
    condition     = var.model_reader == null || can(regex("^[a-z][a-z0-9]{1,15}$", var.model_reader.environment))
    error_message = "model_reader.environment must be a short lowercase name such as dev, staging or prod (the namespace prefix)."
  }
}

variable "mlflow" {
  description = "IRSA role of the MLflow server (ServiceAccount mlflow/mlflow): read and write its artifact bucket, read the RDS master user secret (for External Secrets). null: not created."
  type = object({
    role_name        = string
    namespace        = optional(string, "mlflow")
    service_account  = optional(string, "mlflow")
    artifacts_bucket = string
    s3_kms_key_arn   = string
    db_secret_arn    = string
    db_kms_key_arn   = string
  })
  default = null
}

variable "argocd_hub" {
  description = "IRSA role of Argo CD in the hub cluster: the identity the spoke clusters (wms-staging, wms-prod) grant access to through EKS access entries. It needs no AWS permission but eks:DescribeCluster. null: not created."
  type = object({
    role_name        = string
    namespace        = optional(string, "argocd")
    service_accounts = optional(list(string), ["argocd-application-controller", "argocd-applicationset-controller", "argocd-server"])
    cluster_names    = list(string) # clusters Argo CD may describe, e.g. ["wms-staging", "wms-prod"]
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
