# Each of the four role groups is optional (null = not created), so that one module serves the
# account-wide configuration (GitHub CI) and the per-cluster ones (IRSA roles).

variable "github_ci" {
  description = "GitHub Actions OIDC provider and the CI role its workflows assume (vars.CI_ROLE_ARN): publish models (write-once) to the model store, read the DVC remote and push run outputs to it, push server images to one ECR repository. Only runs on the given branch of the given repository may assume it. null: not created."
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

  validation {
    condition     = var.argocd_hub == null || length(try(var.argocd_hub.cluster_names, [])) > 0
    error_message = "argocd_hub.cluster_names must list the clusters Argo CD manages besides its own (e.g. wms-staging, wms-prod)."
  }
}

variable "external_secrets" {
  description = "IRSA role <cluster_name>-external-secrets of the External Secrets controller (ServiceAccount external-secrets/external-secrets): read the listed Secrets Manager secrets (ARNs, * allowed at the end of a name) and decrypt them with the listed KMS keys. The ClusterSecretStore (apps/) authenticates as that service account. null: not created."
  type = object({
    cluster_name    = string
    namespace       = optional(string, "external-secrets")
    service_account = optional(string, "external-secrets")
    secret_arns     = list(string)
    kms_key_arns    = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.external_secrets == null || length(try(var.external_secrets.secret_arns, [])) > 0
    error_message = "external_secrets.secret_arns must list the secrets it may read (e.g. arn:aws:secretsmanager:<region>:<account>:secret:wms/prod/*)."
  }
}

variable "load_balancer_controller" {
  description = "IRSA role <cluster_name>-aws-load-balancer-controller of the AWS Load Balancer Controller (ServiceAccount kube-system/aws-load-balancer-controller): the NLB in front of Envoy Gateway's proxies. null: not created."
  type = object({
    cluster_name    = string
    namespace       = optional(string, "kube-system")
    service_account = optional(string, "aws-load-balancer-controller")
  })
  default = null
}

variable "cert_manager" {
  description = "IRSA role <cluster_name>-cert-manager of cert-manager (ServiceAccount cert-manager/cert-manager): DNS-01 challenges in the listed Route 53 hosted zones, for the Gateway's wildcard certificate (Secret wms-tls). null: not created."
  type = object({
    cluster_name    = string
    namespace       = optional(string, "cert-manager")
    service_account = optional(string, "cert-manager")
    hosted_zone_ids = list(string)
  })
  default = null

  validation {
    condition     = var.cert_manager == null || alltrue([for z in try(var.cert_manager.hosted_zone_ids, []) : can(regex("^Z[0-9A-Z]{8,32}$", z))])
    error_message = "cert_manager.hosted_zone_ids must be Route 53 hosted zone IDs (Z…), without the /hostedzone/ prefix."
  }
}

variable "karpenter" {
  description = "IRSA role <cluster_name>-karpenter of the Karpenter controller (ServiceAccount kube-system/karpenter): launch and terminate this cluster's nodes, pass only the Karpenter node role, read the interruption queue (eks module outputs karpenter_node_role_arn, karpenter_interruption_queue_arn). null: not created."
  type = object({
    cluster_name           = string
    namespace              = optional(string, "kube-system")
    service_account        = optional(string, "karpenter")
    node_role_arn          = string
    interruption_queue_arn = string
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
