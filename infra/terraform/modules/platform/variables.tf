variable "name" {
  type        = string
  description = "Name prefix of every resource (for example \"unmogrowp-prod\"); bucket names derive from it."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name: 2-39 characters, lowercase letters, digits and '-', starting with a letter."
  }
}

variable "environment" {
  type        = string
  description = "LAKEHOUSE_ENV of the platform: staging or prod (the dbt target and the code's settings of that name)."
  validation {
    condition     = contains(["staging", "prod"], var.environment)
    error_message = "environment is staging or prod."
  }
}

variable "region" {
  type        = string
  description = "AWS region of everything, ClickHouse Cloud included (no cross-region transfer)."
}

variable "tags" {
  type        = map(string)
  description = "Tags of the taggable resources."
  default     = {}
}

# --- network and cluster ------------------------------------------------------------------------
variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC."
  default     = "10.40.0.0/16"
}

variable "azs" {
  type        = list(string)
  description = "Availability zones (2 or 3) of the subnets, the node group, RDS and the cache."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all zones (cheaper, staging) instead of one per zone."
  default     = false
}

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes version."
  default     = "1.33"
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs that may reach the EKS API publicly (CI runners, operators); empty: private endpoint only."
  default     = []
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles given cluster-admin on EKS (operators, CI)."
  default     = []
}

variable "node_instance_types" {
  type        = list(string)
  description = "Instance types of the EKS node group (Dagster runs, Spark executors, MLflow)."
  default     = ["m6i.2xlarge"]
}

variable "node_min_size" {
  type        = number
  description = "Fewest EKS nodes."
  default     = 2
}

variable "node_max_size" {
  type        = number
  description = "Most EKS nodes."
  default     = 6
}

variable "node_desired_size" {
  type        = number
  description = "EKS nodes at creation."
  default     = 3
}

# --- data services ------------------------------------------------------------------------------
variable "retention_raw_days" {
  type        = number
  description = "Days raw identifiers are kept (UNMOGROWP_RETENTION_RAW_DAYS; the landing bucket's expiry): 30 as the code's default."
  default     = 30
}

variable "retention_silver_days" {
  type        = number
  description = "Days silver rows are kept (UNMOGROWP_RETENTION_SILVER_DAYS)."
  default     = 395
}

variable "partitions_start" {
  type        = string
  description = "First hourly/daily partition (UNMOGROWP_PARTITIONS_START, YYYY-MM-DD): the landing zone's first date."
  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.partitions_start))
    error_message = "partitions_start is a date, YYYY-MM-DD."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of the Dagster, MLflow and Feast registry databases."
  default     = "db.t4g.medium"
}

variable "db_multi_az" {
  type        = bool
  description = "Multi-AZ RDS instances."
  default     = true
}

variable "db_deletion_protection" {
  type        = bool
  description = "Deletion protection of the RDS instances."
  default     = true
}

variable "cache_node_type" {
  type        = string
  description = "Node type of the Feast online store (ElastiCache)."
  default     = "cache.r7g.large"
}

variable "cache_nodes" {
  type        = number
  description = "Nodes of the Feast online store (one primary, the rest replicas; Multi-AZ failover)."
  default     = 2
  validation {
    condition     = var.cache_nodes >= 2
    error_message = "cache_nodes: at least 2 (the online store is Multi-AZ with automatic failover)."
  }
}

variable "clickhouse_min_replica_memory_gb" {
  type        = number
  description = "ClickHouse Cloud: smallest memory per replica (GiB, multiple of 4)."
  default     = 16
}

variable "clickhouse_max_replica_memory_gb" {
  type        = number
  description = "ClickHouse Cloud: largest memory per replica (GiB, multiple of 4)."
  default     = 64
}

variable "clickhouse_extra_cidrs" {
  type        = list(string)
  description = "Networks besides the VPC's NAT addresses allowed to reach ClickHouse Cloud (office, VPN)."
  default     = []
}

variable "clickhouse_private_link" {
  type        = bool
  description = "Reach ClickHouse Cloud through PrivateLink (Scale/Enterprise plans)."
  default     = false
}

# --- the code -----------------------------------------------------------------------------------
variable "image_repository" {
  type        = string
  description = "ECR repository of the project's image (the Dockerfile at the repository root)."
}

variable "image_tag" {
  type        = string
  description = "Tag of the image to deploy: unique per build (the git commit)."
}

variable "spark_image" {
  type        = string
  description = "Image of the Spark Connect server and executors: Spark 4.2 (the pyspark client's), the Delta jars, and Python 3.11 with pandas and pyarrow for the UDFs (modules/spark README). Pin a digest."
  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.spark_image)) || can(regex(":[A-Za-z0-9_.-]+$", var.spark_image)) && !endswith(var.spark_image, ":latest")
    error_message = "spark_image needs a digest (repo@sha256:...) or a fixed tag, not :latest or none."
  }
}

variable "webserver_service_type" {
  type        = string
  description = "Service of the Dagster UI: ClusterIP (kubectl port-forward) or LoadBalancer (internal)."
  default     = "ClusterIP"
}
