output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}

output "repository_arn" {
  description = "ARN of the repository (the CI role may push only here)."
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "Image reference prefix <account>.dkr.ecr.<region>.amazonaws.com/<name>: environment.yaml server.image is this plus @sha256:<digest>."
  value       = aws_ecr_repository.this.repository_url
}
