variable "name" {
  type        = string
  description = "Name prefix of the AWS resources (for example \"unmogrowp-prod\")."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name: 2-39 characters, lowercase letters, digits and '-', starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of the taggable AWS resources."
  default     = {}
}

variable "oidc_provider_arn" {
  type        = string
  description = "IAM OIDC provider of the cluster (module eks, output oidc_provider_arn)."
}

variable "oidc_issuer_url" {
  type        = string
  description = "OIDC issuer URL of the cluster (module eks, output oidc_issuer_url)."
}

variable "namespace" {
  type        = string
  description = "Namespace of the MLflow tracking server (created here); must be one of the dagster module's secret_store_namespaces."
  default     = "mlflow"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "image" {
  type        = string
  description = "MLflow server image. The -full variant carries the PostgreSQL drivers (psycopg2) and boto3 for S3; the plain image has neither. Pin a digest (image@sha256:...) in production."
  default     = "ghcr.io/mlflow/mlflow:v3.17.0-full"

  validation {
    condition     = !endswith(var.image, ":latest") && !endswith(var.image, ":latest-full")
    error_message = "Pin an MLflow release (or a digest), not latest."
  }
}

variable "replicas" {
  type        = number
  description = "Replicas of the tracking server (stateless with the PostgreSQL backend and S3 artifacts)."
  default     = 1

  validation {
    condition     = var.replicas >= 1
    error_message = "replicas must be at least 1."
  }
}

variable "workers" {
  type        = number
  description = "Worker processes of each server (mlflow server --workers)."
  default     = 2
}

variable "resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "Resources of the tracking server pod."
  default = {
    requests = { cpu = "250m", memory = "1Gi" }
    limits   = { cpu = "2", memory = "4Gi" }
  }
}

variable "artifacts_uri" {
  type        = string
  description = "S3 destination of the artifacts, served by the tracking server (module lake, output artifacts_uri), for example s3://<bucket>/mlflow."

  validation {
    condition     = startswith(var.artifacts_uri, "s3://")
    error_message = "artifacts_uri must be an s3:// URI."
  }
}

variable "mlflow_artifacts_policy_arn" {
  type        = string
  description = "IAM policy of the artifacts prefix (module lake, output policy_arns[\"mlflow_artifacts\"])."
}

variable "kms_key_arn" {
  type        = string
  description = "CMK of the artifacts bucket (module lake, output kms_key_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "Expected a KMS key ARN."
  }
}

variable "postgres_host" {
  type        = string
  description = "Host of the RDS PostgreSQL instance (module postgres, output endpoint, without the port)."
}

variable "postgres_port" {
  type        = number
  description = "Port of the RDS PostgreSQL instance."
  default     = 5432
}

variable "postgres_database" {
  type        = string
  description = "Database of MLflow's backend store (created beforehand on the instance)."
  default     = "mlflow"
}

variable "postgres_secret_arn" {
  type        = string
  description = "Secrets Manager secret with the database user (JSON with username and password): the RDS master secret (module postgres, output master_secret_arn). The dagster module's ClusterSecretStore must be allowed to read it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.postgres_secret_arn))
    error_message = "Expected a Secrets Manager secret ARN."
  }
}

variable "cluster_secret_store_name" {
  type        = string
  description = "ClusterSecretStore of the External Secrets Operator (module dagster, output cluster_secret_store_name)."
}

variable "secret_refresh_interval" {
  type        = string
  description = "How often the database secret is re-read (a Go duration); the server reads it at start."
  default     = "1h"
}

variable "client_namespaces" {
  type        = list(string)
  description = "Namespaces whose pods may reach the tracking server (NetworkPolicy): the Dagster runs, and the Spark namespace if jobs log there."
  default     = ["dagster", "spark"]
}

variable "allowed_hosts" {
  type        = list(string)
  description = "Further Host headers the server accepts (MLFLOW_SERVER_ALLOWED_HOSTS), for example an internal DNS name in front of it; the Service's names are always allowed."
  default     = []
}
