# The inputs every environment stack sets are in stack-variables.tf (a link to
# modules/cluster-env/stack-variables.tf); the hub adds its MLflow database.

variable "mlflow_db" {
  description = "Size of MLflow's PostgreSQL (see modules/rds)."
  type = object({
    instance_class        = string
    multi_az              = bool
    allocated_storage_gib = number
  })
}
