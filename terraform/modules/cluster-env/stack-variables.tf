# The inputs every environment stack (envs/dev, envs/staging, envs/prod) sets in its
# terraform.tfvars: each stack links this file as its stack-variables.tf, so that the three
# declare them once. This module takes them as they are.

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
  description = "Bucket holding the Terraform states (the same as in backend.tf, which cannot read variables); this stack reads the shared stack's outputs from it (staging and prod also the hub's, dev's)."
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
  description = "The managed system node group (see modules/eks): Karpenter's controller and the platform pods (terraform/platform-budget.yaml); nothing autoscales it."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 50)
  })
}

variable "node_pool" {
  description = "Karpenter NodePool of the model servers (apps/ renders it from the cluster secret annotations node_pool_*): instance types it may launch, capacity type, and its limits (sum of the nodes' vCPUs and GiB). test/capacity.test.ts checks that live + retained + canary at max replicas + surge fit."
  type = object({
    instance_types   = list(string)
    capacity_type    = optional(string, "on-demand")
    cpu_limit        = number
    memory_limit_gib = number
  })

  validation {
    condition     = contains(["on-demand", "spot"], var.node_pool.capacity_type) && var.node_pool.cpu_limit > 0 && var.node_pool.memory_limit_gib > 0
    error_message = "node_pool.capacity_type must be on-demand or spot, and its limits positive."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of the environment's hostnames (environment.yaml gateway.hostname): cert-manager answers DNS-01 challenges there for the Gateway's certificate."
  type        = string
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
