variable "name" {
  description = "Cluster name, e.g. \"wms-prod\". Argo CD knows the cluster by this name (environments/<env>/environment.yaml destination.cluster), except the hub, which it calls in-cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and nodes, e.g. \"1.32\" (the version the rendered manifests are validated against)."
  type        = string
  default     = "1.32"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version like \"1.32\"."
  }
}

variable "vpc_id" {
  description = "VPC the cluster runs in (network module output vpc_id)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control plane's ENIs and the nodes, one per availability zone (network module output private_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API on a public endpoint, limited to public_access_cidrs. Needed when Argo CD in the hub cluster or people reach this cluster from outside its VPC."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint (the hub's NAT IPs, the office VPN). Ignored when endpoint_public_access is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "public_access_cidrs must be IPv4 CIDRs."
  }
}

variable "node_group" {
  description = "The managed node group: instance types, scaling bounds (desired is only the initial size; the autoscaler owns it afterwards), root volume size, capacity type and labels."
  type = object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 50)
    capacity_type  = optional(string, "ON_DEMAND")
    labels         = optional(map(string), {})
  })

  validation {
    condition     = length(var.node_group.instance_types) > 0
    error_message = "node_group.instance_types must name at least one instance type."
  }

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_group.capacity_type)
    error_message = "node_group.capacity_type must be ON_DEMAND or SPOT."
  }

  validation {
    condition     = var.node_group.disk_size_gib >= 20 && var.node_group.disk_size_gib <= 1000
    error_message = "node_group.disk_size_gib must be between 20 and 1000."
  }
}

variable "addons" {
  description = "EKS add-ons by name. version null lets EKS pick the default for the cluster version; before_compute installs it before the node group (the CNI must be there before nodes join)."
  type = map(object({
    version        = optional(string)
    before_compute = optional(bool, false)
  }))
  default = {
    "vpc-cni"            = { before_compute = true }
    "kube-proxy"         = { before_compute = true }
    "coredns"            = {}
    "aws-ebs-csi-driver" = {} # persistent volumes for Prometheus and Grafana
  }
}

variable "access_entries" {
  description = "Who may use the Kubernetes API, by IAM principal: map of a label to the principal's ARN and an EKS access policy (AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy, AmazonEKSEditPolicy or AmazonEKSViewPolicy) granted cluster-wide. Terraform itself needs none (it does not deploy workloads)."
  type = map(object({
    principal_arn = string
    policy        = optional(string, "AmazonEKSClusterAdminPolicy")
  }))
  default = {}

  validation {
    condition = alltrue([for e in values(var.access_entries) : contains(
      ["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy"], e.policy
    )])
    error_message = "access_entries[*].policy must be one of AmazonEKSClusterAdminPolicy, AmazonEKSAdminPolicy, AmazonEKSEditPolicy, AmazonEKSViewPolicy."
  }

  validation {
    condition     = alltrue([for e in values(var.access_entries) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/", e.principal_arn))])
    error_message = "access_entries[*].principal_arn must be an IAM role or user ARN."
  }
}

variable "log_retention_days" {
  description = "How long control-plane logs (api, audit, authenticator, controllerManager, scheduler) are kept, in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
