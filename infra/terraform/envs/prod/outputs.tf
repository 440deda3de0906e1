output "platform_environment" {
  description = "The platform's non-secret environment variables (ConfigMap unmogrowp-env)."
  value       = module.platform.platform_environment
}

output "platform_secrets" {
  description = "Secret environment variables and the Secrets Manager secrets they come from (Secret unmogrowp-secrets)."
  value       = module.platform.platform_secrets
}

output "cluster_name" {
  description = "EKS cluster (aws eks update-kubeconfig --name …)."
  value       = module.platform.cluster_name
}

output "dagster_webserver" {
  description = "In-cluster address of the Dagster UI."
  value       = module.platform.dagster_webserver
}

output "landing_bucket" {
  description = "Landing bucket of the SDK edge and the cost pullers."
  value       = module.platform.landing_bucket
}

output "landing_writer_policy_arn" {
  description = "IAM policy to attach to the landing zone's writers."
  value       = module.platform.landing_writer_policy_arn
}

output "lake_bucket" {
  description = "Lake bucket (Delta tables, config/tenants.yaml, labels/)."
  value       = module.platform.lake_bucket
}
