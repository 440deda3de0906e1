output "host" {
  description = "CLICKHOUSE_HOST: the private host name when PrivateLink is on, else the public HTTPS host."
  value       = coalesce(local.private_host, local.public_host)
}

output "public_host" {
  description = "Public HTTPS host of the service (reachable from allowed_cidrs)."
  value       = local.public_host
}

output "private_host" {
  description = "Private host name through PrivateLink (null without it)."
  value       = local.private_host
}

output "port" {
  description = "CLICKHOUSE_PORT: the HTTPS interface port."
  value       = local.port
}

output "secure" {
  description = "CLICKHOUSE_SECURE: TLS is always on for ClickHouse Cloud."
  value       = true
}

output "username" {
  description = "CLICKHOUSE_USER: the service's default user."
  value       = "default"
}

output "password_secret_arn" {
  description = "ARN of the Secrets Manager secret: JSON {username, password, host, port, secure}; CLICKHOUSE_PASSWORD = its password key."
  value       = aws_secretsmanager_secret.default_user.arn
}

output "service_id" {
  description = "ClickHouse Cloud service ID."
  value       = clickhouse_service.this.id
}

output "service_iam_role" {
  description = "IAM role ARN ClickHouse Cloud uses for S3: trust it from a role carrying the lake module's lake_reader policy, for deltaLake() reads with extra_credentials(role_arn = ...)."
  value       = clickhouse_service.this.iam_role
}

output "kms_key_arn" {
  description = "ARN of the CMK; readers of password_secret_arn need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}

output "private_link_endpoint_id" {
  description = "ID of the PrivateLink interface endpoint (null without it)."
  value       = var.enable_private_link ? aws_vpc_endpoint.private_link[0].id : null
}
