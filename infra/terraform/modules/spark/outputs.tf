output "namespace" {
  description = "Namespace of the EMR virtual cluster and the Spark Connect server."
  value       = kubernetes_namespace_v1.spark.metadata[0].name
}

output "virtual_cluster_id" {
  description = "ID of the EMR on EKS virtual cluster (StartJobRun --virtual-cluster-id)."
  value       = aws_emrcontainers_virtual_cluster.this.id
}

output "job_execution_role_arn" {
  description = "EMR on EKS job execution role (StartJobRun --execution-role-arn): lake pipeline policy and the lake CMK."
  value       = aws_iam_role.job_execution.arn
}

output "spark_connect_role_arn" {
  description = "IRSA role of the Spark Connect server and its executors."
  value       = module.spark_connect_role.role_arn
}

output "spark_remote" {
  description = "SPARK_REMOTE of the Dagster run pods (platform_environment of module dagster)."
  value       = "sc://${kubernetes_service_v1.spark_connect.metadata[0].name}.${kubernetes_namespace_v1.spark.metadata[0].name}.svc.cluster.local:${local.grpc_port}"
}

output "spark_conf" {
  description = "Spark properties of the Spark Connect server (besides spark.driver.host and spark.kubernetes.driver.pod.name, set per pod)."
  value       = local.spark_conf
}

output "image" {
  description = "Spark image of the Spark Connect server and executors."
  value       = local.image
}
