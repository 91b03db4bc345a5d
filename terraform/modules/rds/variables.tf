variable "identifier" {
  description = "RDS instance identifier, e.g. \"wms-mlflow\"; also names the subnet group, security group, parameter group and key."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.identifier)) && !endswith(var.identifier, "-") && !strcontains(var.identifier, "--")
    error_message = "identifier must start with a letter, hold lowercase letters, digits and single dashes, and not end with a dash."
  }
}

variable "vpc_id" {
  description = "VPC of the database (the network module of the cluster that runs MLflow)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the DB subnet group, in at least two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An RDS subnet group needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups whose members may connect on the PostgreSQL port: the EKS cluster security group (MLflow pods)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_security_group_ids) > 0
    error_message = "allowed_security_group_ids must name at least one security group, or nothing can reach the database."
  }
}

variable "engine_version" {
  description = "PostgreSQL major version (minor versions are upgraded automatically in the maintenance window)."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^1[4-7]$", var.engine_version))
    error_message = "engine_version must be a PostgreSQL major version between 14 and 17, e.g. \"16\"."
  }
}

variable "instance_class" {
  description = "Instance class. MLflow's metadata is small and its load light: a burstable Graviton class fits."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS instance class such as db.t4g.medium."
  }
}

variable "allocated_storage_gib" {
  description = "Initial storage in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage_gib >= 20
    error_message = "gp3 storage for RDS PostgreSQL starts at 20 GiB."
  }
}

variable "max_allocated_storage_gib" {
  description = "Storage autoscaling ceiling in GiB; must be above allocated_storage_gib."
  type        = number
  default     = 100
}

variable "multi_az" {
  description = "Keep a synchronous standby in a second availability zone (automatic failover)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the instance until this is turned off in a separate apply."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Name of the database MLflow uses (apps/platform/mlflow.yaml backendStore.postgres.database)."
  type        = string
  default     = "mlflow"
}

variable "master_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager (manage_master_user_password); it never appears in Terraform state."
  type        = string
  default     = "mlflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && !contains(["admin", "postgres", "rdsadmin"], var.master_username)
    error_message = "master_username must be 1-16 lowercase letters, digits or underscores, start with a letter, and not be a reserved name."
  }
}

variable "log_retention_days" {
  description = "How long the exported PostgreSQL logs are kept in CloudWatch Logs, in days."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
