# A customer-managed KMS key for one CloudWatch Logs group (and whatever else its module encrypts
# with it through IAM): the account administers it through IAM (AWS's default key policy), and
# CloudWatch Logs may use it only in the encryption context of the named log group(s). The eks,
# rds and network modules each make theirs with it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id
  region    = data.aws_region.current.region
}

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

  statement {
    sid       = var.logs.statement_sid
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = var.logs.arn_test
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${var.logs.log_group}"]
    }
  }
}

resource "aws_kms_key" "this" {
  description         = var.description
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
  tags                = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.alias == null ? 0 : 1

  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
