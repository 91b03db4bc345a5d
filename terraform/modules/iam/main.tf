# Who may do what in AWS, and nothing more:
#   * GitHub Actions (main branch of this repository only) publishes models and pushes images;
#   * each environment's model server reads the model store, nothing else;
#   * MLflow reads and writes its artifacts and reads its database secret;
#   * Argo CD in the hub cluster is the identity the other clusters let in;
#   * each cluster's platform controllers: External Secrets (read its secrets), the AWS Load
#     Balancer Controller, cert-manager (DNS-01 in Route 53) and Karpenter.
# Platform role names are <cluster>-<component> (e.g. wms-prod-karpenter).
# Pods get their role through IRSA: the trust policy names the cluster's OIDC provider and the
# exact service account (system:serviceaccount:<namespace>:<name>).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  account   = data.aws_caller_identity.current.account_id
  s3_via    = "s3.${data.aws_region.current.region}.amazonaws.com"
}

# ---------------------------------------------------------------------------------------------
# GitHub Actions

resource "aws_iam_openid_connect_provider" "github" {
  count = try(var.github_ci.create_oidc_provider, false) ? 1 : 0

  # No thumbprint_list: IAM validates GitHub's certificate against its trusted CA library.
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  tags           = merge(var.tags, { Name = "github-actions" })
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.github_ci != null && !try(var.github_ci.create_oidc_provider, false) ? 1 : 0

  url = "https://token.actions.githubusercontent.com"
}

locals {
  github_provider_arn = one(concat(aws_iam_openid_connect_provider.github[*].arn, data.aws_iam_openid_connect_provider.github[*].arn))
}

data "aws_iam_policy_document" "ci_assume" {
  count = var.github_ci != null ? 1 : 0

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Exactly one repository and branch: pull requests (also from forks) and other branches
    # get a different sub and cannot publish.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_ci.repository}:ref:refs/heads/${var.github_ci.branch}"]
    }
  }
}

data "aws_iam_policy_document" "ci" {
  count = var.github_ci != null ? 1 : 0

  # publish: HEAD (needs ListBucket to tell "missing" from "forbidden"), then a conditional
  # PUT. No delete; the bucket policy refuses overwrites and deletes for everyone anyway.
  statement {
    sid       = "ModelStoreList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.github_ci.model_store_bucket}"]
  }
  statement {
    sid       = "ModelStorePublish"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.github_ci.model_store_bucket}/*"]
  }

  # dvc pull in the train workflow (model/training/tools/ci-train.sh).
  statement {
    sid       = "DvcRemoteRead"
    actions   = ["s3:ListBucket", "s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.github_ci.dvc_remote_bucket}", "arn:${local.partition}:s3:::${var.github_ci.dvc_remote_bucket}/*"]
  }

  # dvc push of a run's outputs, so that dvc.lock in the release commit is satisfied from the
  # remote. Objects are content-addressed (named by their md5): a put never changes what a
  # committed lock points at, and nothing is deleted.
  statement {
    sid       = "DvcRemotePush"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.github_ci.dvc_remote_bucket}/*"]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.github_ci.s3_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
  }

  # aws-actions/amazon-ecr-login: the registry token is account-wide by design (no resource).
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid = "EcrPush"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [var.github_ci.ecr_repository_arn]
  }
}

resource "aws_iam_role" "ci" {
  count = var.github_ci != null ? 1 : 0

  name                 = var.github_ci.role_name
  description          = "GitHub Actions of ${var.github_ci.repository} (${var.github_ci.branch}): publish models, push server images"
  assume_role_policy   = data.aws_iam_policy_document.ci_assume[0].json
  max_session_duration = 14400 # the train workflow may run up to 4 h before it publishes
  tags                 = var.tags
}

resource "aws_iam_role_policy" "ci" {
  count = var.github_ci != null ? 1 : 0

  name   = "publish-models-push-images"
  role   = aws_iam_role.ci[0].id
  policy = data.aws_iam_policy_document.ci[0].json
}

# ---------------------------------------------------------------------------------------------
# IRSA roles

# Model server: get a model by its URI (and HEAD it); no listing of other prefixes is needed,
# but ListBucket turns a missing model into a clear 404 instead of a 403.
data "aws_iam_policy_document" "model_reader" {
  count = var.model_reader != null ? 1 : 0

  statement {
    sid       = "ModelStoreList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.model_reader.model_store_bucket}"]
  }
  statement {
    sid       = "ModelStoreRead"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${var.model_reader.model_store_bucket}/*"]
  }
  # The bucket key is shared with the DVC remote and MLflow's artifacts: decrypt only for S3
  # and only in the model store's encryption context (bucket keys use the bucket's ARN).
  statement {
    sid       = "ModelStoreDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [var.model_reader.s3_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["arn:${local.partition}:s3:::${var.model_reader.model_store_bucket}", "arn:${local.partition}:s3:::${var.model_reader.model_store_bucket}/*"]
    }
  }
}

data "aws_iam_policy_document" "mlflow" {
  count = var.mlflow != null ? 1 : 0

  statement {
    sid       = "ArtifactsList"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.mlflow.artifacts_bucket}"]
  }
  # MLflow proxies artifact uploads and downloads and deletes them with runs (mlflow gc).
  statement {
    sid       = "ArtifactsReadWrite"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["arn:${local.partition}:s3:::${var.mlflow.artifacts_bucket}/*"]
  }
  statement {
    sid       = "ArtifactsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.mlflow.s3_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.s3_via]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["arn:${local.partition}:s3:::${var.mlflow.artifacts_bucket}", "arn:${local.partition}:s3:::${var.mlflow.artifacts_bucket}/*"]
    }
  }
  # The database credentials, which RDS rotates (External Secrets reads them as this SA).
  statement {
    sid       = "DatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.mlflow.db_secret_arn]
  }
  statement {
    sid       = "DatabaseSecretKey"
    actions   = ["kms:Decrypt"]
    resources = [var.mlflow.db_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "argocd_hub" {
  count = var.argocd_hub != null ? 1 : 0

  statement {
    sid       = "DescribeManagedClusters"
    actions   = ["eks:DescribeCluster"]
    resources = [for c in var.argocd_hub.cluster_names : "arn:${local.partition}:eks:${local.region}:${local.account}:cluster/${c}"]
  }
}
