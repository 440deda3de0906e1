output "primary_endpoint" {
  description = "Primary endpoint host name (writes and reads; follows failovers)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint" {
  description = "Reader endpoint host name (spreads reads over the replicas)."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "Port of the Redis protocol (TLS)."
  value       = local.port
}

output "auth_secret_arn" {
  description = "ARN of the Secrets Manager secret: JSON {auth_token, connection_string}; FEAST_REDIS_CONNECTION = its connection_string key."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "ID of the cache's security group (6379 from allowed_security_group_ids)."
  value       = aws_security_group.this.id
}

output "kms_key_arn" {
  description = "ARN of the CMK; readers of auth_secret_arn need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}
