terraform {
  # 1.10: S3 backend state locking with use_lockfile (no DynamoDB table).
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.64"
    }
  }
}

provider "aws" {
  region = var.region
  # A guard against applying with credentials for the wrong account.
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = local.tags
  }
}
