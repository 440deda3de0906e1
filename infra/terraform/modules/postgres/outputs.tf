output "endpoint" {
  description = "Host name of the instance (no port)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the database created in the instance."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name (its password is in master_secret_arn)."
  value       = aws_db_instance.this.username
}

output "master_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret holding the master credentials (JSON with username and password; rotated by RDS)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "ID of the instance's security group (5432 from allowed_security_group_ids)."
  value       = aws_security_group.this.id
}

output "instance_id" {
  description = "DB instance identifier (the name used by the RDS API and CLI)."
  value       = aws_db_instance.this.identifier
}

output "resource_id" {
  description = "DBI resource ID, for rds-db:connect IAM policies (arn:aws:rds-db:<region>:<account>:dbuser:<resource_id>/<db user>)."
  value       = aws_db_instance.this.resource_id
}

output "kms_key_arn" {
  description = "ARN of the CMK; readers of master_secret_arn need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}
