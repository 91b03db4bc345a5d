variable "account_id" {
  description = "AWS account of the platform (the account in environments/<env>/environment.yaml's ARNs)."
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

variable "state_bucket" {
  description = "Bucket holding the Terraform states (the same as in backend.tf, which cannot read variables); this stack reads the shared and hub (dev) stacks' outputs from it."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of this environment's VPC; must not overlap the other environments' (peering or a transit gateway may join them later)."
  type        = string
}

variable "azs" {
  description = "Availability zones of the VPC and the node group."
  type        = list(string)
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the cluster."
  type        = string
}

variable "node_group" {
  description = "Managed node group size and shape (see modules/eks)."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 50)
  })
}

variable "api_allowed_cidrs" {
  description = "Networks of the people who use kubectl (office, VPN) allowed to reach the public API endpoint."
  type        = list(string)
}

variable "admin_role_arn" {
  description = "IAM role of the platform administrators (SSO permission set role): cluster admin through an EKS access entry."
  type        = string
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per availability zone (true) or one shared (false, cheaper)."
  type        = bool
}
