output "landing_bucket" {
  description = "Name of the landing bucket (raw SDK batches under events/, cost reports under cost/)."
  value       = aws_s3_bucket.data["landing"].id
}

output "lake_bucket" {
  description = "Name of the lake bucket (Delta tables under lake_prefix)."
  value       = aws_s3_bucket.data["lake"].id
}

output "artifacts_bucket" {
  description = "Name of the MLflow artifact bucket."
  value       = aws_s3_bucket.data["artifacts"].id
}

output "access_logs_bucket" {
  description = "Name of the bucket receiving the server access logs of the three data buckets (prefix <bucket>/)."
  value       = aws_s3_bucket.access_logs.id
}

output "landing_uri" {
  description = "UNMOGROWP_LANDING_URI: the landing root, s3://<landing bucket> (events/ and cost/ below it)."
  value       = "s3://${aws_s3_bucket.data["landing"].id}"
}

output "lake_uri" {
  description = "UNMOGROWP_LAKE_URI: s3://<lake bucket>/<lake_prefix>, the root the Delta tables live under."
  value       = "s3://${aws_s3_bucket.data["lake"].id}/${var.lake_prefix}"
}

output "artifacts_uri" {
  description = "MLflow's --artifacts-destination (or --default-artifact-root, MLFLOW_ARTIFACT_ROOT): s3://<artifacts bucket>."
  value       = "s3://${aws_s3_bucket.data["artifacts"].id}"
}

output "kms_key_arn" {
  description = "ARN of the CMK encrypting the landing, lake and artifact buckets."
  value       = aws_kms_key.this.arn
}

output "policy_arns" {
  description = "IAM policy ARNs by role: landing_writer, pipeline, lake_reader, mlflow_artifacts."
  value       = { for k, p in aws_iam_policy.this : k => p.arn }
}
