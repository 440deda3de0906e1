output "namespace" {
  description = "Namespace of Dagster (webserver, daemon, code location, run pods)."
  value       = kubernetes_namespace_v1.dagster.metadata[0].name
}

output "webserver_service" {
  description = "In-cluster address of the Dagster UI (host:port), from the chart's Service <release>-webserver."
  value       = "${helm_release.dagster.name}-webserver.${kubernetes_namespace_v1.dagster.metadata[0].name}.svc.cluster.local:80"
}

output "user_code_role_arn" {
  description = "IRSA role of the code location and its run pods (lake pipeline + lake_reader policies)."
  value       = module.user_code_role.role_arn
}

output "user_code_service_account" {
  description = "Kubernetes service account of the code location and its run pods."
  value       = local.user_code_service_account
}

output "platform_secret_name" {
  description = "Kubernetes Secret with the platform's secret environment (CLICKHOUSE_PASSWORD, FEAST_REDIS_CONNECTION, FEAST_REGISTRY_PATH, UNMOGROWP_DEVICE_KEY_SALT, UNMOGROWP_AUDIT_SALT)."
  value       = local.platform_secret_name
}

output "platform_config_map_name" {
  description = "Kubernetes ConfigMap with the platform's non-secret environment (var.platform_environment)."
  value       = kubernetes_config_map_v1.platform.metadata[0].name
}

output "secret_arns" {
  description = "Secrets Manager secrets this module created, by name (device_key_salt, audit_salt)."
  value       = { for k, s in aws_secretsmanager_secret.generated : k => s.arn }
}

output "secrets_kms_key_arn" {
  description = "CMK encrypting the secrets this module created."
  value       = aws_kms_key.secrets.arn
}

output "cluster_secret_store_name" {
  description = "ClusterSecretStore (AWS Secrets Manager through IRSA) for ExternalSecrets in the allowed namespaces (module mlflow)."
  # From the resource, so that users of the store wait for it
  value = kubernetes_manifest.cluster_secret_store.manifest.metadata.name
}

output "external_secrets_role_arn" {
  description = "IRSA role of the External Secrets Operator."
  value       = module.eso_role.role_arn
}

output "external_secrets_role_name" {
  description = "Name of the External Secrets Operator's role (attach policies for more secrets to it)."
  value       = module.eso_role.role_name
}
