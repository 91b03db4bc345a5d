variable "env" {
  description = "Environment name: dev, staging or prod (cluster wms-<env>, namespaces <env>-wms-*, environments/<env>/environment.yaml)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.env))
    error_message = "env must be a short lowercase name such as staging or prod."
  }
}

variable "hub" {
  description = "Set on the hub (dev): its cluster runs Argo CD, called in-cluster, with the IRSA role <cluster>-argocd that the spokes (spoke_cluster_names) admit, and MLflow with its PostgreSQL (mlflow_db, see modules/rds). null: a spoke, which reads the hub's Argo CD role and egress IPs from the hub's state."
  type = object({
    spoke_cluster_names = list(string)
    mlflow_db = object({
      instance_class        = string
      multi_az              = bool
      allocated_storage_gib = number
    })
  })
  default = null
}
