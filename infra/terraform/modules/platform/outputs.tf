output "platform_environment" {
  description = "The platform's non-secret environment variables (ConfigMap unmogrowp-env); README's table."
  value       = local.platform_environment
}

output "platform_secrets" {
  description = "Each secret environment variable and the Secrets Manager secret it is synced from (Secret unmogrowp-secrets)."
  value       = local.platform_secrets
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name …)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "EKS API endpoint (the kubernetes and helm providers of the envs)."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority" {
  description = "EKS cluster CA, base64."
  value       = module.eks.cluster_certificate_authority
}

output "dagster_webserver" {
  description = "In-cluster address of the Dagster UI (kubectl port-forward to it)."
  value       = module.dagster.webserver_service
}

output "landing_bucket" {
  description = "Bucket the SDK edge and cost pullers write to (policy landing_writer)."
  value       = module.lake.landing_bucket
}

output "landing_writer_policy_arn" {
  description = "IAM policy for the writers of the landing zone."
  value       = module.lake.policy_arns["landing_writer"]
}

output "lake_bucket" {
  description = "Bucket of the Delta lake (and of config/tenants.yaml, labels/)."
  value       = module.lake.lake_bucket
}
