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

variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster (module eks, output cluster_name)."
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
  description = "Namespace of the EMR virtual cluster and of the Spark Connect server and executors (created here)."
  default     = "spark"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "lake_policy_arns" {
  type        = map(string)
  description = "IAM policies of the lake (module lake, output policy_arns); Spark jobs get `pipeline`."

  validation {
    condition     = contains(keys(var.lake_policy_arns), "pipeline")
    error_message = "lake_policy_arns needs the key pipeline (module lake, output policy_arns)."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "CMK of the lake and landing buckets (module lake, output kms_key_arn): Spark reads and writes objects encrypted with it."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "Expected a KMS key ARN."
  }
}

variable "manage_emr_access_entry" {
  type        = bool
  description = "Create the EKS access entry mapping EMR's service-linked role to the Kubernetes user emr-containers (bound to the Role emr-containers in the namespace). Set false if EMR's cluster access management integration already created one."
  default     = true
}

# --- Spark Connect server ---------------------------------------------------------------------

variable "image" {
  type        = string
  description = "Spark image of the Spark Connect server and its executors. Null: the EMR on EKS image emr_image_tag from the regional EMR registry. Pin a digest (repo@sha256:...) in production. Its Spark version must match the pyspark client (see README)."
  default     = null
}

variable "emr_image_registry_account" {
  type        = string
  description = "Account of the EMR on EKS image registry in this region (EMR on EKS guide, 'Details for selecting a base image URI'; 895885662937 is us-west-2)."
  default     = "895885662937"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.emr_image_registry_account))
    error_message = "emr_image_registry_account is a 12-digit account ID."
  }
}

variable "emr_image_tag" {
  type        = string
  description = "Repository and tag of the EMR on EKS Spark image under spark/ (emr-spark-8.0.0:20260421 = Spark 4.0.2, Delta 4.0.0)."
  default     = "emr-spark-8.0.0:20260421"

  validation {
    condition     = !endswith(var.emr_image_tag, ":latest")
    error_message = "Use a dated EMR image tag, not :latest."
  }
}

variable "spark_home" {
  type        = string
  description = "SPARK_HOME inside the image: /usr/lib/spark in EMR images, /opt/spark in apache/spark images."
  default     = "/usr/lib/spark"
}

variable "delta_jars" {
  type        = list(string)
  description = "Delta Lake jars on spark.jars (paths inside the image; the EMR image's by default)."
  default = [
    "/usr/share/aws/delta/lib/delta-spark.jar",
    "/usr/share/aws/delta/lib/delta-storage.jar",
  ]

  validation {
    condition     = length(var.delta_jars) > 0
    error_message = "The Delta Lake jars are required (spark.sql.extensions io.delta.sql.DeltaSparkSessionExtension)."
  }
}

variable "s3a_credentials_provider" {
  type        = string
  description = "fs.s3a.aws.credentials.provider: the web-identity (IRSA) provider of the AWS SDK v2 that Hadoop 3.4 (Spark 4) uses."
  default     = "software.amazon.awssdk.auth.credentials.WebIdentityTokenFileCredentialsProvider"
}

variable "run_as_user" {
  type        = number
  description = "UID of the Spark processes: the image's own non-root user (999 = hadoop in EMR images, 185 in apache/spark images)."
  default     = 999

  validation {
    condition     = var.run_as_user > 0
    error_message = "Spark runs as a non-root user (run_as_user > 0)."
  }
}

variable "read_only_root_filesystem" {
  type        = bool
  description = "Run the Spark Connect server with a read-only root filesystem (writable /tmp for logs, PID and local dirs). Set false only if a custom image writes elsewhere."
  default     = true
}

variable "client_namespaces" {
  type        = list(string)
  description = "Namespaces whose pods may open Spark Connect sessions (NetworkPolicy): the Dagster runs."
  default     = ["dagster"]
}

variable "server_resources" {
  type = object({
    requests = map(string)
    limits   = map(string)
  })
  description = "Resources of the Spark Connect server pod (the Spark driver of every session)."
  default = {
    requests = { cpu = "2", memory = "8Gi" }
    limits   = { cpu = "4", memory = "8Gi" }
  }
}

variable "driver_memory" {
  type        = string
  description = "JVM heap of the Spark Connect server (spark.driver.memory), below the pod's memory limit."
  default     = "6g"
}

variable "executor_memory" {
  type        = string
  description = "spark.executor.memory."
  default     = "8g"
}

variable "executor_cores" {
  type        = number
  description = "spark.executor.cores (and the executor pods' CPU request)."
  default     = 2
}

variable "min_executors" {
  type        = number
  description = "Dynamic allocation: fewest executor pods."
  default     = 0
}

variable "max_executors" {
  type        = number
  description = "Dynamic allocation: most executor pods."
  default     = 10

  validation {
    condition     = var.max_executors >= 1
    error_message = "max_executors must be at least 1."
  }
}

variable "extra_spark_conf" {
  type        = map(string)
  description = "Further Spark properties of the Spark Connect server (override the module's)."
  default     = {}
}
