# The S3 buckets of the platform, account-wide (not per environment): the model store every
# environment reads from, the DVC remote with the training data, MLflow's artifacts, and one
# bucket for their access logs. All private, TLS-only, versioned, encrypted with one KMS key.
#
# The model store is write-once: Object Lock keeps every published version for
# model_retention_days, and the bucket policy refuses a PUT that could replace an object (one
# without If-None-Match, which is what `npm run gen -- publish` always sends) and any delete.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  buckets = {
    models = { name = var.model_store_bucket, immutable = true }
    dvc    = { name = var.dvc_remote_bucket, immutable = false }
    mlflow = { name = var.mlflow_artifacts_bucket, immutable = false }
  }
}

# ---------------------------------------------------------------------------------------------
# Encryption key. IAM policies grant its use (the key policy delegates to the account); the
# readers' policies (modules/iam) limit that to S3 and to their own bucket's encryption context.

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109: key policy, not an identity policy: "Resource: *" means this key, and the root-account statement is AWS's default key policy that delegates the key's use to IAM policies
  #checkov:skip=CKV_AWS_111: same key-policy statement (see CKV_AWS_109)
  #checkov:skip=CKV_AWS_356: same key-policy statement (see CKV_AWS_109)
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
}

resource "aws_kms_key" "s3" {
  description         = "S3 buckets: model store, DVC remote, MLflow artifacts"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
  tags                = var.tags
}

resource "aws_kms_alias" "s3" {
  # A readable name in the console and CloudTrail; the environment stacks take the ARN from
  # the shared stack's state.
  name          = "alias/wms-s3"
  target_key_id = aws_kms_key.s3.key_id
}

# ---------------------------------------------------------------------------------------------
# The data buckets

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144: single-region platform; the model store is write-once with Object Lock, and models, DVC data and MLflow runs can be rebuilt from git + the DVC remote, so cross-region replication is not worth its cost here
  #checkov:skip=CKV2_AWS_62: nothing consumes S3 event notifications (publish and deploy go through git)
  for_each = local.buckets

  bucket              = each.value.name
  object_lock_enabled = each.value.immutable # can only be turned on at creation
  tags                = merge(var.tags, { Name = each.value.name })
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced" # ACLs off: access is decided by IAM and the bucket policy only
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.s3.arn
    }
    bucket_key_enabled = true # one KMS data key per bucket, not per object: fewer KMS calls
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each = local.buckets

  bucket        = aws_s3_bucket.this[each.key].id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "${each.value.name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Superseded versions of mutable data go after a while; the model store has none to expire
  # (nothing may replace a model), so it keeps everything.
  dynamic "rule" {
    for_each = each.value.immutable ? [] : [1]
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {}
      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_object_lock_configuration" "models" {
  bucket = aws_s3_bucket.this["models"].id

  rule {
    default_retention {
      # GOVERNANCE rather than COMPLIANCE: an administrator with s3:BypassGovernanceRetention
      # can still remove a model that must go (e.g. a data licence problem).
      mode = "GOVERNANCE"
      days = var.model_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      "arn:${local.partition}:s3:::${each.value.name}",
      "arn:${local.partition}:s3:::${each.value.name}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Write-once: a PUT must carry If-None-Match: * (S3 then refuses it with 412 when the key
  # exists), so no client, whatever its IAM rights, can overwrite a published model.
  dynamic "statement" {
    for_each = each.value.immutable ? [1] : []
    content {
      sid       = "DenyOverwrite"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["arn:${local.partition}:s3:::${each.value.name}/*"]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      condition {
        test     = "Null"
        variable = "s3:if-none-match"
        values   = ["true"]
      }
    }
  }

  # Deleting a model would break every environment that pins it; retiring one is a reviewed
  # change of this policy, not an API call.
  dynamic "statement" {
    for_each = each.value.immutable ? [1] : []
    content {
      sid     = "DenyDelete"
      effect  = "Deny"
      actions = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
      resources = [
        "arn:${local.partition}:s3:::${each.value.name}",
        "arn:${local.partition}:s3:::${each.value.name}/*",
      ]
      principals {
        type        = "*"
        identifiers = ["*"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  # S3 rejects a policy while the public access block is being written.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ---------------------------------------------------------------------------------------------
# Access logs bucket

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18: this is the access-log target itself; logging it into itself would loop
  #checkov:skip=CKV_AWS_144: access logs are audit data of this region; replication not worth its cost here
  #checkov:skip=CKV2_AWS_62: nothing consumes S3 event notifications for access logs
  #checkov:skip=CKV_AWS_145: S3 server access logging can only deliver to buckets encrypted with SSE-S3, not SSE-KMS
  bucket = var.access_logs_bucket
  tags   = merge(var.tags, { Name = var.access_logs_bucket })
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [for b in local.buckets : "arn:${local.partition}:s3:::${b.name}"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket     = aws_s3_bucket.logs.id
  policy     = data.aws_iam_policy_document.logs.json
  depends_on = [aws_s3_bucket_public_access_block.logs]
}
