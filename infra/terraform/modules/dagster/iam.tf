# IRSA roles: the External Secrets Operator (reads exactly the secrets below) and the code
# location with its run pods (the lake's pipeline and lake_reader policies).

locals {
  eso_service_account       = "external-secrets"
  user_code_service_account = "unmogrowp-user-code"

  feast_registry_secret_arn = coalesce(var.feast_registry_secret_arn, var.postgres_master_secret_arn)

  # Every secret the ClusterSecretStore may read
  readable_secret_arns = distinct(concat(
    [
      var.postgres_master_secret_arn,
      local.feast_registry_secret_arn,
      var.clickhouse_password_secret_arn,
      var.feast_online_secret_arn,
    ],
    [for s in aws_secretsmanager_secret.generated : s.arn],
    var.additional_secret_arns,
  ))
}

data "aws_iam_policy_document" "eso" {
  statement {
    sid    = "ReadPlatformSecrets"
    effect = "Allow"
    actions = [
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetResourcePolicy",
      "secretsmanager:ListSecretVersionIds",
    ]
    resources = local.readable_secret_arns
  }

  statement {
    sid       = "DecryptThroughSecretsManager"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = concat([aws_kms_key.secrets.arn], var.secret_kms_key_arns)

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "eso" {
  name        = "${var.name}-external-secrets"
  description = "External Secrets Operator of ${var.name}: read the platform's secrets"
  policy      = data.aws_iam_policy_document.eso.json
  tags        = var.tags
}

module "eso_role" {
  source = "../irsa"

  name              = "${var.name}-external-secrets"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  namespace         = kubernetes_namespace_v1.eso.metadata[0].name
  service_account   = local.eso_service_account
  policy_arns       = [aws_iam_policy.eso.arn]
  tags              = var.tags
}

module "user_code_role" {
  source = "../irsa"

  name              = "${var.name}-dagster-user-code"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  namespace         = kubernetes_namespace_v1.dagster.metadata[0].name
  service_account   = local.user_code_service_account
  policy_arns       = [var.lake_policy_arns["pipeline"], var.lake_policy_arns["lake_reader"]]
  tags              = var.tags
}
