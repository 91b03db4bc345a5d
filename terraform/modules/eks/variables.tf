variable "name" {
  description = "Cluster name, e.g. \"wms-prod\". Argo CD knows the cluster by this name (environments/<env>/environment.yaml destination.cluster), except the hub, which it calls in-cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name must be 2-39 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version of the control plane and the system node group, e.g. \"1.36\" (in EKS standard support; the version the rendered manifests are validated against). Karpenter's nodes follow the control plane."
  type        = string
  default     = "1.36"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version like \"1.36\"."
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
  description = "The managed system node group: where Karpenter's controller, CoreDNS and the platform pods run (Karpenter must not run on nodes it manages). Instance types, sizes (no autoscaler moves this group: size it for the platform, see terraform/platform-budget.yaml), root volume size, capacity type and labels."
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
  description = "EKS add-ons by name. version null lets EKS pick the default for the cluster version; before_compute installs it before the node group (the CNI must be there before nodes join); configuration_values is the add-on's JSON configuration. vpc-cni must enforce NetworkPolicies (enableNetworkPolicy: the rendered model namespaces are default-deny)."
  type = map(object({
    version              = optional(string)
    before_compute       = optional(bool, false)
    configuration_values = optional(string)
  }))
  default = {
    # https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html
    "vpc-cni"            = { before_compute = true, configuration_values = "{\"enableNetworkPolicy\":\"true\"}" }
    "kube-proxy"         = { before_compute = true }
    "coredns"            = {}
    # Persistent volumes for Prometheus and Grafana. Since EKS 1.30 no StorageClass is the
    # default; the add-on's own (gp3) becomes it, so claims without a class bind.
    # https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions-extended.html (1.30)
    "aws-ebs-csi-driver" = { configuration_values = "{\"defaultStorageClass\":{\"enabled\":true}}" }
  }

  validation {
    condition     = contains(keys(var.addons), "vpc-cni") && try(jsondecode(var.addons["vpc-cni"].configuration_values).enableNetworkPolicy, "") == "true"
    error_message = "addons must install vpc-cni with configuration_values {\"enableNetworkPolicy\":\"true\"}: without it the rendered NetworkPolicies are not enforced."
  }
}

variable "karpenter" {
  description = "Karpenter's AWS side for this cluster: the node role (with its EKS access entry), the interruption queue and the EventBridge rules that feed it. The controller's IRSA role is in modules/iam; the NodePool and EC2NodeClass (apps/) name the outputs karpenter_node_role_name and karpenter_interruption_queue_name."
  type = object({
    queue_retention_seconds = optional(number, 300)
  })
  default = {}
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
