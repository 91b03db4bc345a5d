# Account-wide part of the platform, outliving any one cluster: the S3 buckets (model store,
# DVC remote, MLflow artifacts), the server image repository, and the GitHub Actions role.
# The environments (envs/dev, envs/staging, envs/prod) refer to these by name.

locals {
  tags = {
    project    = "wms"
    managed-by = "terraform"
    stack      = "shared"
  }

  # What the rest of the repository already says about these resources; checked below so
  # that terraform and the GitOps side cannot drift apart silently.
  repo_root   = "${path.module}/../../.."
  dvc_config  = file("${local.repo_root}/.dvc/config")
  train_flow  = file("${local.repo_root}/.github/workflows/train.yaml")
  image_flow  = yamldecode(file("${local.repo_root}/.github/workflows/server-image.yaml"))
  environment = { for env in ["dev", "staging", "prod"] : env => yamldecode(file("${local.repo_root}/environments/${env}/environment.yaml")) }
}

module "storage" {
  source = "../../modules/storage"

  model_store_bucket      = var.model_store_bucket
  dvc_remote_bucket       = var.dvc_remote_bucket
  mlflow_artifacts_bucket = var.mlflow_artifacts_bucket
  access_logs_bucket      = var.access_logs_bucket
  tags                    = local.tags
}

module "ecr" {
  source = "../../modules/ecr"

  name = var.ecr_repository
  tags = local.tags
}

module "iam" {
  source = "../../modules/iam"

  github_ci = {
    role_name            = var.ci_role_name
    repository           = var.github_repository
    branch               = "main"
    create_oidc_provider = var.create_github_oidc_provider
    model_store_bucket   = module.storage.model_store_bucket
    dvc_remote_bucket    = module.storage.dvc_remote_bucket
    ecr_repository_arn   = module.ecr.repository_arn
    s3_kms_key_arn       = module.storage.kms_key_arn
  }
  tags = local.tags
}

# The image every environment pins must come from this repository (warns; an image built
# before the repository existed is a placeholder until the first server-image run).
check "environments_pull_from_this_repository" {
  assert {
    condition = alltrue([for env, cfg in local.environment :
      startswith(cfg.server.image, "${module.ecr.repository_url}@sha256:")
    ])
    error_message = "environments/*/environment.yaml server.image should be ${module.ecr.repository_url}@sha256:<digest>; run the server-image workflow."
  }
}
