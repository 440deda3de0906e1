# Feast's online store: an ElastiCache replication group (cluster mode disabled: one primary, replicas
# in other AZs), TLS only, AUTH token required, encrypted at rest with this module's CMK. The token
# is generated here and kept in Secrets Manager with Feast's connection string.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  engine_version = coalesce(var.engine_version, var.engine == "valkey" ? "8.0" : "7.1")
  log_group_base = "/aws/elasticache/${var.name}"
  log_types      = ["slow-log", "engine-log"]
  port           = 6379
}

# --- the CMK ---------------------------------------------------------------------------------------

# A key policy: "Resource": "*" inside a key policy means this key (KMS accepts nothing else there).
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:KMS key policy; Resource "*" is this key only, and the account root must keep key administration (else the key becomes unmanageable)
  #checkov:skip=CKV_AWS_111:KMS key policy; Resource "*" is this key only; CloudWatch Logs use is bound to this cache's log groups by encryption context
  #checkov:skip=CKV_AWS_356:KMS key policy; "*" is the only resource a key policy accepts and denotes this key
  statement {
    sid       = "AccountAdministrationAndIamDelegation"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsOfThisCache"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_base}/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name} Feast online store: data at rest, auth secret, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-feast-online"
  target_key_id = aws_kms_key.this.key_id
}

# --- the auth token --------------------------------------------------------------------------------

# Alphanumeric only: the token sits inside Feast's connection string ("host:port,ssl=true,password=…"),
# where "," and "=" separate options; 64 characters keep ~380 bits of entropy.
resource "random_password" "auth_token" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth" {
  #checkov:skip=CKV2_AWS_57:the token is owned by Terraform (random_password), not by a rotation Lambda: rotate with `terraform apply -replace=module.<this>.random_password.auth_token` (auth_token_update_strategy ROTATE keeps the old token valid until clients have the new one, see README)
  name                    = "${var.name}/feast-online/auth"
  description             = "AUTH token and Feast connection string of ${var.name} (FEAST_REDIS_CONNECTION = connection_string)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  secret_id = aws_secretsmanager_secret.auth.id
  secret_string = jsonencode({
    auth_token        = random_password.auth_token.result
    connection_string = "${aws_elasticache_replication_group.this.primary_endpoint_address}:${local.port},ssl=true,password=${random_password.auth_token.result}"
  })
}

# --- network ---------------------------------------------------------------------------------------

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "${var.name} Feast online store"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

# 6379 from the allowed security groups only; no egress (the cache initiates nothing).
resource "aws_security_group" "this" {
  name_prefix = "${var.name}-feast-online-"
  description = "Feast online store ${var.name}: 6379 from the allowed security groups only"
  vpc_id      = var.vpc_id

  dynamic "ingress" {
    for_each = length(var.allowed_security_group_ids) > 0 ? [1] : []

    content {
      description     = "Redis protocol (TLS) from the allowed security groups"
      from_port       = local.port
      to_port         = local.port
      protocol        = "tcp"
      security_groups = var.allowed_security_group_ids
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-feast-online" })

  lifecycle {
    create_before_destroy = true
  }
}

# --- logs ------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(local.log_types)

  name              = "${local.log_group_base}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

# --- the replication group -------------------------------------------------------------------------

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "${var.name} Feast online store"

  engine         = var.engine
  engine_version = local.engine_version
  node_type      = var.node_type
  port           = local.port

  num_cache_clusters         = var.num_cache_clusters
  automatic_failover_enabled = var.multi_az
  multi_az_enabled           = var.multi_az

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = random_password.auth_token.result
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit  = var.snapshot_retention_days
  snapshot_window           = var.snapshot_window
  maintenance_window        = var.maintenance_window
  final_snapshot_identifier = var.snapshot_retention_days > 0 ? "${var.name}-final" : null

  auto_minor_version_upgrade = true
  apply_immediately          = var.apply_immediately

  dynamic "log_delivery_configuration" {
    for_each = aws_cloudwatch_log_group.this

    content {
      destination      = log_delivery_configuration.value.name
      destination_type = "cloudwatch-logs"
      log_format       = "json"
      log_type         = log_delivery_configuration.key
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !var.multi_az || var.num_cache_clusters >= 2
      error_message = "multi_az needs num_cache_clusters >= 2 (a primary and at least one replica in another AZ)."
    }
  }
}
