# The gitops bridge (modules/cluster-env/outputs.tf says what each value is for).

output "argocd_cluster" {
  description = "This cluster as Argo CD sees it (in-cluster), with the metadata the platform apps read: put the annotations on Argo CD's in-cluster cluster secret (gitops-bridge convention)."
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

output "argocd_hub_role_arn" {
  description = "Annotate Argo CD's service accounts with it (eks.amazonaws.com/role-arn); the staging and prod stacks grant it cluster access."
  value       = module.cluster.argocd_hub_role_arn
}

output "nat_public_ips" {
  description = "Egress IPs of this VPC: the staging and prod API endpoints admit them, so that Argo CD here can reach those clusters."
  value       = module.cluster.nat_public_ips
}

output "mlflow_db_secret_arn" {
  description = "Secrets Manager secret with MLflow's database credentials (External Secrets source of mlflow-db)."
  value       = module.cluster.mlflow_db_secret_arn
}
