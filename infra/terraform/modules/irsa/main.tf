# One IAM role for one Kubernetes service account (IRSA): the EKS pod identity webhook injects
# AWS_ROLE_ARN and a projected token into pods running as that service account, and only that
# service account (sub) with the STS audience (aud) may assume the role.

locals {
  # The condition keys are "<issuer host/path>:sub" and "<issuer host/path>:aud"
  issuer = trimprefix(var.oidc_issuer_url, "https://")
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "ServiceAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "IRSA role of ${var.namespace}/${var.service_account}"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  tags                 = var.tags
}

# count, not for_each: the ARNs usually come from other modules and are unknown at plan time
resource "aws_iam_role_policy_attachment" "this" {
  count = length(var.policy_arns)

  role       = aws_iam_role.this.name
  policy_arn = var.policy_arns[count.index]
}
