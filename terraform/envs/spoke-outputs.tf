# The outputs of a spoke stack (envs/staging, envs/prod): each links this file as its
# outputs.tf; terraform/envs itself is no stack. The gitops bridge
# (modules/cluster-env/outputs.tf says what each value is for).

output "argocd_cluster" {
  description = "Argo CD cluster secret content for this cluster: name, server, config (IRSA via argocd-k8s-auth, no static token) and metadata annotations for the platform apps."
  value       = module.cluster.argocd_cluster
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name …)."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.cluster.cluster_endpoint
}

output "model_reader_role_arn" {
  description = "environment.yaml modelStore.readRoleArn."
  value       = module.cluster.model_reader_role_arn
}

output "s3_cidr_blocks" {
  description = "environment.yaml modelStore.egressCIDRs must list these."
  value       = module.cluster.s3_cidr_blocks
}
