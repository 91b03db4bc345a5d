# One EKS cluster with a managed system node group, Karpenter's AWS side (node role, interruption
# queue) for the workload nodes, IRSA (the cluster's OIDC issuer registered as an
# IAM identity provider) and the core add-ons. Plain resources rather than the upstream
# terraform-aws-modules/eks module: every resource is then visible to the offline checks
# (checkov reads them; it cannot read a registry module without downloading it).

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  log_group = "/aws/eks/${var.name}/cluster" # the name EKS writes control-plane logs to
}

# ---------------------------------------------------------------------------------------------
# Encryption: one key for Kubernetes Secrets (envelope encryption) and the control-plane logs.

module "key" {
  source = "../logs-kms-key"

  description = "${var.name}: EKS secrets and control-plane logs"
  alias       = "eks/${var.name}"
  logs        = { statement_sid = "ControlPlaneLogs", log_group = local.log_group }
  tags        = var.tags
}

# Created here (not by EKS on first write) so that it has a retention and our key.
resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = module.key.arn
  tags              = var.tags
}

# ---------------------------------------------------------------------------------------------
# Control plane

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.name}-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# The control plane encrypts and decrypts Secrets with our key.
data "aws_iam_policy_document" "cluster_encryption" {
  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [module.key.arn]
  }
}

resource "aws_iam_role_policy" "cluster_encryption" {
  name   = "secrets-encryption"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_encryption.json
}

resource "aws_eks_cluster" "this" {
  #checkov:skip=CKV_AWS_339: checkov 3.3.30 (the newest on PyPI on 2026-12-01) knows EKS versions up to 1.35 only; 1.36 is in EKS standard support until 2027-08-02 (docs/versions.md), and test/terraform.test.ts pins every stack to it
  #checkov:skip=CKV_AWS_39: the public endpoint is off by default; staging and prod turn it on so that Argo CD in the hub cluster can reach them without VPC peering, restricted to public_access_cidrs (precondition below, and CKV_AWS_38)
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  # Access entries only (no aws-auth ConfigMap), and the identity that runs terraform apply
  # gets no implicit cluster-admin: who may use the API is listed in var.access_entries.
  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = false
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.public_access_cidrs
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = module.key.arn
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !var.endpoint_public_access || (length(var.public_access_cidrs) > 0 && !contains(var.public_access_cidrs, "0.0.0.0/0"))
      error_message = "endpoint_public_access is on, so public_access_cidrs must list the networks allowed to reach the API (the hub's NAT IPs, a VPN), and must not contain 0.0.0.0/0."
    }
  }

  depends_on = [
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_encryption,
    aws_cloudwatch_log_group.this,
  ]
}

resource "aws_eks_access_entry" "this" {
  for_each = var.access_entries

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value.principal_arn
  type          = "STANDARD"
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "this" {
  for_each = var.access_entries

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.this[each.key].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/${each.value.policy}"

  access_scope {
    type = "cluster"
  }
}

# ---------------------------------------------------------------------------------------------
# IRSA: the cluster's OIDC issuer as an IAM identity provider. No thumbprint_list: IAM trusts
# the issuer's certificate through its own CA library for EKS issuers.

resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
  tags           = merge(var.tags, { Name = "${var.name}-irsa" })
}

locals {
  oidc_issuer = replace(aws_iam_openid_connect_provider.this.url, "https://", "")
}

# ---------------------------------------------------------------------------------------------
# Nodes

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",               # the VPC CNI runs with the node's role
    "AmazonEC2ContainerRegistryReadOnly", # pull wms-server from ECR
    "AmazonSSMManagedInstanceCore",       # shell access through SSM, no SSH keys or open ports
  ])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

resource "aws_launch_template" "node" {
  name_prefix = "${var.name}-node-"
  description = "${var.name} managed node group: IMDSv2 only, encrypted gp3 root volume"

  # IMDSv2 with a hop limit of 1: pods cannot reach the node's instance profile credentials;
  # every workload that needs AWS gets its own role through IRSA instead.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda" # root device of the EKS-optimized AL2023 AMI
    ebs {
      volume_size           = var.node_group.disk_size_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-node" })
  }

  tags = var.tags
}

resource "aws_eks_node_group" "this" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-system"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnet_ids
  version         = var.kubernetes_version
  ami_type        = "AL2023_x86_64_STANDARD"
  capacity_type   = var.node_group.capacity_type
  instance_types  = var.node_group.instance_types
  labels          = var.node_group.labels

  launch_template {
    id      = aws_launch_template.node.id
    version = aws_launch_template.node.latest_version
  }

  scaling_config {
    min_size     = var.node_group.min_size
    max_size     = var.node_group.max_size
    desired_size = var.node_group.desired_size
  }

  # Roll at most a third of the nodes at a time: the PDBs keep serving replicas up.
  update_config {
    max_unavailable_percentage = 33
  }

  tags = var.tags

  lifecycle {
    # Nothing scales this group (Karpenter owns the workload nodes); desired_size is still left
    # alone after creation so that a manual resize in an incident is not undone by an apply.
    ignore_changes = [scaling_config[0].desired_size]

    precondition {
      condition     = var.node_group.min_size >= 1 && var.node_group.min_size <= var.node_group.desired_size && var.node_group.desired_size <= var.node_group.max_size
      error_message = "node_group sizes must satisfy 1 <= min_size <= desired_size <= max_size (got ${var.node_group.min_size} <= ${var.node_group.desired_size} <= ${var.node_group.max_size})."
    }
  }

  depends_on = [
    aws_iam_role_policy_attachment.node,
    aws_eks_addon.before_compute,
  ]
}

# ---------------------------------------------------------------------------------------------
# Add-ons. The EBS CSI driver gets its own IRSA role; the others need none.

data "aws_iam_policy_document" "ebs_csi_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.this.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ebs_csi" {
  count = contains(keys(var.addons), "aws-ebs-csi-driver") ? 1 : 0

  name               = "${var.name}-ebs-csi"
  assume_role_policy = data.aws_iam_policy_document.ebs_csi_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  count = length(aws_iam_role.ebs_csi)

  role       = aws_iam_role.ebs_csi[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

locals {
  addon_roles = { "aws-ebs-csi-driver" = one(aws_iam_role.ebs_csi[*].arn) }
}

resource "aws_eks_addon" "before_compute" {
  for_each = { for name, a in var.addons : name => a if a.before_compute }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.version
  configuration_values        = each.value.configuration_values
  service_account_role_arn    = lookup(local.addon_roles, each.key, null)
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  tags                        = var.tags
}

resource "aws_eks_addon" "this" {
  for_each = { for name, a in var.addons : name => a if !a.before_compute }

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = each.value.version
  configuration_values        = each.value.configuration_values
  service_account_role_arn    = lookup(local.addon_roles, each.key, null)
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  tags                        = var.tags

  # CoreDNS and the CSI controller are Deployments: they need nodes to become healthy.
  depends_on = [aws_eks_node_group.this]
}

# ---------------------------------------------------------------------------------------------
# Karpenter: the workload nodes. The controller (IRSA role in modules/iam) runs on the system
# node group above and launches nodes with this role; EKS admits them through the access entry.
# Resources follow Karpenter's getting-started CloudFormation template (v1.14):
# https://github.com/aws/karpenter-provider-aws/blob/main/website/content/en/preview/getting-started/getting-started-with-karpenter/cloudformation.yaml

resource "aws_iam_role" "karpenter_node" {
  name               = "${var.name}-karpenter-node"
  description        = "${var.name}: nodes launched by Karpenter"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "karpenter_node" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonSSMManagedInstanceCore",
  ])

  role       = aws_iam_role.karpenter_node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

resource "aws_eks_access_entry" "karpenter_node" {
  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_iam_role.karpenter_node.arn
  type          = "EC2_LINUX"
  tags          = var.tags
}

# EC2NodeClass securityGroupSelectorTerms find the cluster security group by this tag (the
# subnets carry it already, modules/network).
resource "aws_ec2_tag" "cluster_security_group_discovery" {
  resource_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  key         = "karpenter.sh/discovery"
  value       = var.name
}

# Named like the cluster, as in Karpenter's reference template (the chart's
# settings.interruptionQueue is then the cluster name).
resource "aws_sqs_queue" "karpenter_interruption" {
  name                      = var.name
  message_retention_seconds = var.karpenter.queue_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

data "aws_iam_policy_document" "karpenter_interruption_queue" {
  statement {
    sid       = "EventBridgeAndSqsSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.karpenter_interruption.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "sqs.amazonaws.com"]
    }
  }
  statement {
    sid       = "DenyHTTP"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.karpenter_interruption.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "karpenter_interruption" {
  queue_url = aws_sqs_queue.karpenter_interruption.url
  policy    = data.aws_iam_policy_document.karpenter_interruption_queue.json
}

locals {
  # The events Karpenter acts on before AWS takes a node away.
  karpenter_events = {
    health-scheduled-change = { source = ["aws.health"], detail-type = ["AWS Health Event"] }
    spot-interruption       = { source = ["aws.ec2"], detail-type = ["EC2 Spot Instance Interruption Warning"] }
    rebalance               = { source = ["aws.ec2"], detail-type = ["EC2 Instance Rebalance Recommendation"] }
    instance-state-change   = { source = ["aws.ec2"], detail-type = ["EC2 Instance State-change Notification"] }
  }
}

resource "aws_cloudwatch_event_rule" "karpenter" {
  for_each = local.karpenter_events

  name          = "${var.name}-karpenter-${each.key}"
  description   = "${var.name}: ${each.value["detail-type"][0]} to Karpenter's interruption queue"
  event_pattern = jsonencode(each.value)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "karpenter" {
  for_each = aws_cloudwatch_event_rule.karpenter

  rule      = each.value.name
  target_id = "KarpenterInterruptionQueueTarget"
  arn       = aws_sqs_queue.karpenter_interruption.arn
}
