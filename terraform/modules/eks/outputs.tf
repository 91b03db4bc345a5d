output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster (the server name Argo CD's awsAuthConfig uses)."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API (Argo CD cluster secret: server)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the Kubernetes API (Argo CD cluster secret: config.tlsClientConfig.caData)."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "kubernetes_version" {
  description = "Kubernetes minor version of the control plane."
  value       = aws_eks_cluster.this.version
}

output "cluster_security_group_id" {
  description = "The security group EKS made for the control plane and the managed nodes: allow it where pods must connect (e.g. RDS)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider for IRSA: the Federated principal of every service-account role."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "The cluster's OIDC issuer without https:// (the prefix of the :sub and :aud condition keys in IRSA trust policies)."
  value       = local.oidc_issuer
}

output "node_role_arn" {
  description = "IAM role of the managed system node group."
  value       = aws_iam_role.node.arn
}

output "node_group_name" {
  description = "Name of the managed system node group."
  value       = aws_eks_node_group.this.node_group_name
}

output "karpenter_node_role_name" {
  description = "IAM role of Karpenter's nodes (EC2NodeClass spec.role; Karpenter makes the instance profile)."
  value       = aws_iam_role.karpenter_node.name
}

output "karpenter_node_role_arn" {
  description = "ARN of Karpenter's node role (the controller may pass only this role)."
  value       = aws_iam_role.karpenter_node.arn
}

output "karpenter_interruption_queue_name" {
  description = "SQS queue of EC2 interruption and health events (Karpenter's settings.interruptionQueue)."
  value       = aws_sqs_queue.karpenter_interruption.name
}

output "karpenter_interruption_queue_arn" {
  description = "ARN of the interruption queue (the controller's role may read and delete its messages)."
  value       = aws_sqs_queue.karpenter_interruption.arn
}
