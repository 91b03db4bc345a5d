output "address" {
  description = "Host name of the database (apps/platform/mlflow.yaml backendStore.postgres.host)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of MLflow's database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret (JSON with username and password) that RDS manages and rotates; External Secrets turns it into the mlflow-db Secret."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "kms_key_arn" {
  description = "ARN of the database's KMS key (it also encrypts the master user secret: readers of the secret need kms:Decrypt on it)."
  value       = module.key.arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}
