output "model_store_bucket" {
  description = "Name of the model store bucket (environment.yaml modelStore.uri is s3://<this>)."
  value       = aws_s3_bucket.this["models"].id
}

output "model_store_bucket_arn" {
  description = "ARN of the model store bucket."
  value       = aws_s3_bucket.this["models"].arn
}

output "dvc_remote_bucket" {
  description = "Name of the DVC remote bucket."
  value       = aws_s3_bucket.this["dvc"].id
}

output "dvc_remote_bucket_arn" {
  description = "ARN of the DVC remote bucket."
  value       = aws_s3_bucket.this["dvc"].arn
}

output "mlflow_artifacts_bucket" {
  description = "Name of the MLflow artifact bucket."
  value       = aws_s3_bucket.this["mlflow"].id
}

output "mlflow_artifacts_bucket_arn" {
  description = "ARN of the MLflow artifact bucket."
  value       = aws_s3_bucket.this["mlflow"].arn
}

output "access_logs_bucket" {
  description = "Name of the access log bucket."
  value       = aws_s3_bucket.logs.id
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the three data buckets: readers and writers need kms:Decrypt / kms:GenerateDataKey on it."
  value       = aws_kms_key.s3.arn
}

output "kms_key_alias" {
  description = "Alias of that key (alias/wms-s3)."
  value       = aws_kms_alias.s3.name
}
