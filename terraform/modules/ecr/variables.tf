variable "name" {
  description = "Repository name (environment.yaml server.image: <account>.dkr.ecr.<region>.amazonaws.com/<name>@sha256:…)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name))
    error_message = "name must be a valid ECR repository name (lowercase, digits, . _ - /)."
  }
}

variable "keep_tagged_images" {
  description = "How many tagged images (one per CI build, tagged with the commit SHA) to keep. Environments pin images by digest, so this must stay well above the number of builds between a prod release and its retirement."
  type        = number
  default     = 300

  validation {
    condition     = var.keep_tagged_images >= 50
    error_message = "keep_tagged_images must be at least 50: expiring an image that an environment still pins breaks its next pod start."
  }
}

variable "pull_principal_arns" {
  description = "IAM principals (e.g. node roles of clusters in other accounts) allowed to pull. Principals of this account need no entry: their IAM policies suffice."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
