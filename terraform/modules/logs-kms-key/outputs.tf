output "arn" {
  description = "ARN of the key (kms_key_id of the log group and of whatever else the caller encrypts)."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "Key ID."
  value       = aws_kms_key.this.key_id
}
