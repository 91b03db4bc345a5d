variable "env" {
  description = "Environment name: dev, staging or prod (cluster wms-<env>, namespaces <env>-wms-*, environments/<env>/environment.yaml)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.env))
    error_message = "env must be a short lowercase name such as staging or prod."
  }
}
