variable "name" {
  description = "Role name (e.g. wms-prod-model-reader, wms-prod-karpenter)."
  type        = string
}

variable "description" {
  description = "Role description: who assumes it and for what."
  type        = string
}

variable "input" {
  description = "The caller's name for this role (modules/iam's input, e.g. model_reader), used in error messages."
  type        = string
}

variable "eks_oidc" {
  description = "The cluster's IRSA identity provider (eks module outputs oidc_provider_arn and oidc_issuer, the issuer without https://). null fails the plan with a message naming `input`."
  type = object({
    provider_arn = string
    issuer       = string
  })
}

variable "service_accounts" {
  description = "Subjects allowed to assume the role: system:serviceaccount:<namespace>:<name>, * allowed (StringLike)."
  type        = list(string)

  validation {
    condition     = length(var.service_accounts) > 0 && alltrue([for s in var.service_accounts : startswith(s, "system:serviceaccount:")])
    error_message = "service_accounts must list at least one system:serviceaccount:<namespace>:<name>."
  }
}

variable "policy_name" {
  description = "Name of the role's inline policy."
  type        = string
}

variable "policy" {
  description = "The inline policy (JSON, e.g. an aws_iam_policy_document's json)."
  type        = string
}

variable "tags" {
  description = "Tags of the role."
  type        = map(string)
  default     = {}
}
