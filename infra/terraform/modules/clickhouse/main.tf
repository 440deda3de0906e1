# ClickHouse Cloud service for the marts (dbt-clickhouse, the hourly raw loads, ClickHouse's
# deltaLake() reads of the lake). The default user's password is generated here, kept in Secrets
# Manager (this module's CMK), and handed to ClickHouse Cloud only as its SHA-256 hash
# (password_hash; see README for why not password_wo). Optionally an AWS PrivateLink endpoint.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  development = var.tier == "development"
  cidrs       = [for c in var.allowed_cidrs : strcontains(c, "/") ? c : "${c}/32"]
  port        = 8443

  public_host  = clickhouse_service.this.endpoints.https.host
  private_host = var.enable_private_link ? clickhouse_service.this.private_endpoint_config.private_dns_hostname : null
}

# --- the CMK (Secrets Manager) ---------------------------------------------------------------------

# A key policy: "Resource": "*" inside a key policy means this key (KMS accepts nothing else there).
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:KMS key policy; Resource "*" is this key only, and the account root must keep key administration (else the key becomes unmanageable)
  #checkov:skip=CKV_AWS_111:KMS key policy; Resource "*" is this key only; use is granted through IAM policies of the secret's readers
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
}

resource "aws_kms_key" "this" {
  description             = "${var.name} ClickHouse Cloud credentials"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-clickhouse"
  target_key_id = aws_kms_key.this.key_id
}

# --- the default user's password -------------------------------------------------------------------

# Upper, lower, digit and a special character (ClickHouse Cloud's password rules); the specials are
# ones that need no quoting in URLs, YAML or shell.
resource "random_password" "default_user" {
  length           = 40
  special          = true
  override_special = "-_.~"
  min_upper        = 2
  min_lower        = 2
  min_numeric      = 2
  min_special      = 1
}

resource "aws_secretsmanager_secret" "default_user" {
  #checkov:skip=CKV2_AWS_57:the password is owned by Terraform (random_password, given to ClickHouse Cloud as a hash), not by a rotation Lambda: rotate with `terraform apply -replace=module.<this>.random_password.default_user` (README)
  name                    = "${var.name}/clickhouse/default-user"
  description             = "ClickHouse Cloud ${var.name}: default user's credentials (CLICKHOUSE_PASSWORD = password)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "default_user" {
  secret_id = aws_secretsmanager_secret.default_user.id
  secret_string = jsonencode({
    username = "default"
    password = random_password.default_user.result
    host     = coalesce(local.private_host, local.public_host)
    port     = local.port
    secure   = true
  })
}

# --- the service -----------------------------------------------------------------------------------

resource "clickhouse_service" "this" {
  name           = var.name
  cloud_provider = "aws"
  region         = var.region
  tier           = var.tier

  idle_scaling         = var.idle_scaling
  idle_timeout_minutes = var.idle_scaling ? var.idle_timeout_minutes : null

  # the legacy development tier sizes itself and has no backup settings
  min_replica_memory_gb = local.development ? null : var.min_replica_memory_gb
  max_replica_memory_gb = local.development ? null : var.max_replica_memory_gb
  num_replicas          = local.development ? null : var.num_replicas
  release_channel       = var.release_channel

  ip_access = [
    for c in local.cidrs : {
      source      = c
      description = "${var.name}: allowed network"
    }
  ]

  # base64(SHA-256(password)): the provider sends and stores only the hash
  password_hash = base64sha256(random_password.default_user.result)

  backup_configuration = local.development ? null : {
    backup_period_in_hours           = var.backup_start_time == null ? var.backup_period_hours : null
    backup_retention_period_in_hours = var.backup_retention_hours
    backup_start_time                = var.backup_start_time
  }

  lifecycle {
    precondition {
      condition     = var.max_replica_memory_gb >= var.min_replica_memory_gb
      error_message = "max_replica_memory_gb must be at least min_replica_memory_gb."
    }
  }
}

# --- PrivateLink (optional) ------------------------------------------------------------------------

resource "aws_security_group" "private_link" {
  count = var.enable_private_link ? 1 : 0

  name_prefix = "${var.name}-clickhouse-pl-"
  description = "ClickHouse Cloud PrivateLink ${var.name}: 8443 and 9440 from the allowed security groups"
  vpc_id      = var.vpc_id

  dynamic "ingress" {
    for_each = length(var.private_link_allowed_security_group_ids) > 0 ? { https = 8443, native = 9440 } : {}

    content {
      description     = "ClickHouse ${ingress.key} (TLS) from the allowed security groups"
      from_port       = ingress.value
      to_port         = ingress.value
      protocol        = "tcp"
      security_groups = var.private_link_allowed_security_group_ids
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-clickhouse-private-link" })

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.vpc_id != null && length(var.subnet_ids) >= 1
      error_message = "enable_private_link needs vpc_id and subnet_ids."
    }

    precondition {
      condition     = var.region == data.aws_region.current.region
      error_message = "PrivateLink needs the ClickHouse service in the AWS provider's region."
    }
  }
}

resource "aws_vpc_endpoint" "private_link" {
  count = var.enable_private_link ? 1 : 0

  vpc_id              = var.vpc_id
  service_name        = clickhouse_service.this.private_endpoint_config.endpoint_service_id
  vpc_endpoint_type   = "Interface"
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.private_link[0].id]
  private_dns_enabled = false

  tags = merge(var.tags, { Name = "${var.name}-clickhouse" })
}

resource "clickhouse_service_private_endpoints_attachment" "this" {
  count = var.enable_private_link ? 1 : 0

  service_id           = clickhouse_service.this.id
  private_endpoint_ids = [aws_vpc_endpoint.private_link[0].id]
}

# The service's private host name resolves, inside the VPC, to the endpoint's network interfaces.
resource "aws_route53_zone" "private_link" {
  count = var.enable_private_link ? 1 : 0

  name    = local.private_host
  comment = "ClickHouse Cloud ${var.name} through PrivateLink"

  vpc {
    vpc_id = var.vpc_id
  }

  tags = var.tags
}

resource "aws_route53_record" "private_link" {
  count = var.enable_private_link ? 1 : 0

  zone_id = aws_route53_zone.private_link[0].zone_id
  name    = local.private_host
  type    = "A"

  alias {
    name                   = aws_vpc_endpoint.private_link[0].dns_entry[0].dns_name
    zone_id                = aws_vpc_endpoint.private_link[0].dns_entry[0].hosted_zone_id
    evaluate_target_health = false
  }
}
