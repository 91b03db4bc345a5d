# One IRSA role: trusted by one cluster's OIDC provider for the listed service accounts only
# (system:serviceaccount:<namespace>:<name>; * allowed, hence StringLike), with one inline
# policy. modules/iam calls it once per role it makes.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [try(var.eks_oidc.provider_arn, "")]
    }
    condition {
      test     = "StringEquals"
      variable = "${try(var.eks_oidc.issuer, "")}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "${try(var.eks_oidc.issuer, "")}:sub"
      values   = var.service_accounts
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  description        = var.description
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags

  lifecycle {
    precondition {
      condition     = var.eks_oidc != null
      error_message = "${var.input} is an IRSA role: set eks_oidc to the cluster's OIDC provider (eks module outputs oidc_provider_arn and oidc_issuer)."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = var.policy
}
