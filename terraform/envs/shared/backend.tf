# State lives in a bucket created once by hand (or by a bootstrap stack) before the first
# init: versioned, SSE, public access blocked. Locking with an S3 lock file (Terraform >= 1.10).
terraform {
  backend "s3" {
    bucket       = "wms-terraform-state-111122223333"
    key          = "shared/terraform.tfstate"
    region       = "eu-central-1"
    encrypt      = true
    use_lockfile = true
  }
}
