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

# --- cluster ---------------------------------------------------------------------------------

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
  description = "Kubernetes namespace of Dagster (created here): webserver, daemon, code location and run pods."
  default     = "dagster"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a DNS-1123 label."
  }
}

# --- Dagster chart ---------------------------------------------------------------------------

variable "release_name" {
  type        = string
  description = "Helm release name of the Dagster chart (prefix of its Kubernetes objects)."
  default     = "dagster"
}

variable "chart_version" {
  type        = string
  description = "Version of the Dagster Helm chart; it must match the project's dagster==1.13.* pin."
  default     = "1.13.0"

  validation {
    condition     = startswith(var.chart_version, "1.13.")
    error_message = "chart_version must be a 1.13.x release: the code location runs dagster==1.13.*, and the webserver, daemon and code server must agree."
  }
}

variable "image_repository" {
  type        = string
  description = "Image repository of the UnMoGrowP code location (the project's image with dagster, dbt, Spark client, ...), for example \"<account>.dkr.ecr.<region>.amazonaws.com/unmogrowp\"."
}

variable "image_tag" {
  type        = string
  description = "Image tag of the code location: a unique tag per build (the run pods use the same image)."

  validation {
    condition     = length(var.image_tag) > 0 && var.image_tag != "latest"
    error_message = "image_tag must be a unique build tag, not empty or \"latest\": every run must use the image its code location loaded."
  }
}

variable "code_module" {
  type        = string
  description = "Python module of the Dagster definitions (`dagster api grpc -m <module>`)."
  default     = "orchestration.definitions"
}

variable "max_concurrent_runs" {
  type        = number
  description = "QueuedRunCoordinator: the most runs in progress at once."
  default     = 10

  validation {
    condition     = var.max_concurrent_runs >= 0
    error_message = "max_concurrent_runs must not be negative."
  }
}

variable "webserver_service_type" {
  type        = string
  description = "Service of the Dagster UI: ClusterIP (reach it through kubectl port-forward or your own ingress) or LoadBalancer (an internal load balancer in the VPC)."
  default     = "ClusterIP"

  validation {
    condition     = contains(["ClusterIP", "LoadBalancer"], var.webserver_service_type)
    error_message = "webserver_service_type is ClusterIP or LoadBalancer."
  }
}

variable "webserver_source_ranges" {
  type        = list(string)
  description = "With an internal LoadBalancer: the CIDRs allowed to reach it (empty: the load balancer's default, the VPC)."
  default     = []

  validation {
    condition     = !contains(var.webserver_source_ranges, "0.0.0.0/0")
    error_message = "The Dagster UI has no authentication of its own: do not open it to 0.0.0.0/0."
  }
}

variable "user_code_resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "Resources of the code location (gRPC server) pod."
  default = {
    requests = { cpu = "500m", memory = "1Gi" }
    limits   = { cpu = "2", memory = "4Gi" }
  }
}

variable "run_resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "Resources of each run pod (K8sRunLauncher): dbt, delta-rs, the Spark Connect client and MLflow run there."
  default = {
    requests = { cpu = "1", memory = "4Gi" }
    limits   = { cpu = "4", memory = "12Gi" }
  }
}

# --- lake, databases and secrets (other modules) ---------------------------------------------

variable "lake_policy_arns" {
  type        = map(string)
  description = "IAM policies of the lake (module lake, output policy_arns); the code location and runs get `pipeline` and `lake_reader`."

  validation {
    condition     = contains(keys(var.lake_policy_arns), "pipeline") && contains(keys(var.lake_policy_arns), "lake_reader")
    error_message = "lake_policy_arns needs the keys pipeline and lake_reader (module lake, output policy_arns)."
  }
}

variable "postgres_host" {
  type        = string
  description = "Host name of the RDS PostgreSQL instance (module postgres, output endpoint, without the port)."
}

variable "postgres_port" {
  type        = number
  description = "Port of the RDS PostgreSQL instance (module postgres, output port)."
  default     = 5432
}

variable "postgres_database" {
  type        = string
  description = "Database of Dagster's run, event and schedule storage on that instance."
  default     = "dagster"
}

variable "postgres_username" {
  type        = string
  description = "User Dagster connects as (module postgres, output username): the user of postgres_master_secret_arn."
}

variable "postgres_master_secret_arn" {
  type        = string
  description = "AWS-managed Secrets Manager secret of the RDS master user (JSON with username and password; module postgres, output master_secret_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.postgres_master_secret_arn))
    error_message = "Expected a Secrets Manager secret ARN."
  }
}

variable "feast_registry_secret_arn" {
  type        = string
  description = "Secret (JSON with username and password) of the Feast registry's database; null: postgres_master_secret_arn."
  default     = null
}

variable "feast_registry_host" {
  type        = string
  description = "Host of the Feast registry's PostgreSQL; null: postgres_host."
  default     = null
}

variable "feast_registry_port" {
  type        = number
  description = "Port of the Feast registry's PostgreSQL."
  default     = 5432
}

variable "feast_registry_database" {
  type        = string
  description = "Database of the Feast SQL registry."
  default     = "feast"
}

variable "clickhouse_password_secret_arn" {
  type        = string
  description = "Secret whose value is the ClickHouse password string (module clickhouse, output password_secret_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.clickhouse_password_secret_arn))
    error_message = "Expected a Secrets Manager secret ARN."
  }
}

variable "feast_online_secret_arn" {
  type        = string
  description = "Secret of the Feast online store (JSON with connection_string; module feast_online, output auth_secret_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.feast_online_secret_arn))
    error_message = "Expected a Secrets Manager secret ARN."
  }
}

variable "secret_kms_key_arns" {
  type        = list(string)
  description = "Customer-managed KMS keys that encrypt the input secrets above, if any (the External Secrets role may decrypt with them through Secrets Manager only). AWS-managed keys need nothing."
  default     = []
}

variable "additional_secret_arns" {
  type        = list(string)
  description = "Further Secrets Manager secrets the ClusterSecretStore may read (for ExternalSecrets of the namespaces in secret_store_namespaces)."
  default     = []
}

variable "platform_environment" {
  type        = map(string)
  description = "The platform's non-secret environment (src/unmogrowp/config.py), into the ConfigMap unmogrowp-env: LAKEHOUSE_ENV, UNMOGROWP_LAKE_URI, UNMOGROWP_LANDING_URI, CLICKHOUSE_HOST, CLICKHOUSE_PORT, CLICKHOUSE_SECURE, MLFLOW_TRACKING_URI, SPARK_REMOTE, ..."

  validation {
    condition     = contains(["staging", "prod"], lookup(var.platform_environment, "LAKEHOUSE_ENV", ""))
    error_message = "platform_environment.LAKEHOUSE_ENV must be staging or prod."
  }

  validation {
    condition     = alltrue([for k in ["UNMOGROWP_LAKE_URI", "UNMOGROWP_LANDING_URI", "CLICKHOUSE_HOST"] : lookup(var.platform_environment, k, "") != ""])
    error_message = "platform_environment needs UNMOGROWP_LAKE_URI, UNMOGROWP_LANDING_URI and CLICKHOUSE_HOST (required outside local)."
  }

  validation {
    condition = length(setintersection(keys(var.platform_environment), [
      "CLICKHOUSE_PASSWORD", "FEAST_REDIS_CONNECTION", "FEAST_REGISTRY_PATH", "UNMOGROWP_DEVICE_KEY_SALT",
      "UNMOGROWP_AUDIT_SALT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DAGSTER_PG_PASSWORD",
    ])) == 0
    error_message = "platform_environment is a ConfigMap: secrets come from the Secret unmogrowp-secrets, and AWS credentials from IRSA."
  }
}

# --- External Secrets Operator ----------------------------------------------------------------

variable "eso_chart_version" {
  type        = string
  description = "Version of the external-secrets Helm chart (https://charts.external-secrets.io)."
  default     = "2.9.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.eso_chart_version))
    error_message = "Pin an exact chart version (x.y.z)."
  }
}

variable "eso_namespace" {
  type        = string
  description = "Namespace of the External Secrets Operator (created here)."
  default     = "external-secrets"
}

variable "secret_store_namespaces" {
  type        = list(string)
  description = "Namespaces besides Dagster's whose ExternalSecrets may use the ClusterSecretStore (the mlflow module's)."
  default     = ["mlflow"]
}

variable "secret_refresh_interval" {
  type        = string
  description = "How often External Secrets re-reads Secrets Manager (a Go duration). Pods read their environment at start: restart them after a rotation."
  default     = "1h"

  validation {
    condition     = can(regex("^([0-9]+(ns|us|ms|s|m|h))+$", var.secret_refresh_interval))
    error_message = "secret_refresh_interval is a Go duration such as 1h or 15m."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Recovery window of the Secrets Manager secrets this module creates (0 deletes at once)."
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days is 0 or between 7 and 30."
  }
}
