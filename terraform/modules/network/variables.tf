variable "name" {
  description = "Name prefix for every resource of this network, e.g. \"wms-prod\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "cidr" {
  description = "IPv4 CIDR of the VPC. A /16 to /18: it is cut into one public and one private subnet per availability zone."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && contains(["16", "17", "18"], try(split("/", var.cidr)[1], ""))
    error_message = "cidr must be a valid IPv4 CIDR between /16 and /18, e.g. 10.30.0.0/16."
  }

  # The model servers' NetworkPolicies reach STS's interface endpoint by the block every
  # platform VPC is carved from (generator/src/platform.ts AWS_STS.vpcSupernet).
  validation {
    condition     = can(cidrhost(var.cidr, 0)) && startswith(var.cidr, "10.")
    error_message = "cidr must lie in 10.0.0.0/8: the rendered NetworkPolicies allow STS (its interface endpoint in this VPC) as 10.0.0.0/8 (generator/src/platform.ts)."
  }
}

variable "interface_endpoints" {
  description = "AWS services reached through an interface VPC endpoint with private DNS (service name suffix after com.amazonaws.<region>.). sts is what IRSA needs; add more (ecr.api, ecr.dkr, ec2, sqs, ...) to take them off the NAT path."
  type        = list(string)
  default     = ["sts"]

  validation {
    condition     = contains(var.interface_endpoints, "sts")
    error_message = "interface_endpoints must include sts: IRSA (every pod role) calls STS, and the rendered NetworkPolicies allow STS only inside the VPC."
  }
}

variable "azs" {
  description = "Availability zones to spread the subnets over (all in the provider's region), e.g. [\"eu-central-1a\", \"eu-central-1b\", \"eu-central-1c\"]."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 4 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list 2 to 4 distinct availability zones (EKS needs subnets in at least two)."
  }
}

variable "nat_gateway_per_az" {
  description = "One NAT gateway per availability zone (true: an AZ outage does not cut the others' egress; prod) or a single shared one (false: cheaper; dev)."
  type        = bool
  default     = true
}

variable "cluster_name" {
  description = "Name of the EKS cluster that will use these subnets; tags the subnets so the AWS Load Balancer Controller and Karpenter can discover them."
  type        = string
}

variable "flow_log_retention_days" {
  description = "How long VPC flow logs are kept in CloudWatch Logs, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of the retention periods CloudWatch Logs accepts (e.g. 30, 90, 365)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
