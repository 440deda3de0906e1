output "tracking_uri" {
  description = "MLFLOW_TRACKING_URI of the platform (platform_environment of module dagster)."
  value       = "http://${kubernetes_service_v1.mlflow.metadata[0].name}.${kubernetes_namespace_v1.mlflow.metadata[0].name}.svc.cluster.local:${local.port}"
}

output "namespace" {
  description = "Namespace of the MLflow tracking server."
  value       = kubernetes_namespace_v1.mlflow.metadata[0].name
}

output "role_arn" {
  description = "IRSA role of the tracking server (mlflow_artifacts policy and the bucket's CMK)."
  value       = module.role.role_arn
}
