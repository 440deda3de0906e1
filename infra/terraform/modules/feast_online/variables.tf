variable "name" {
  type        = string
  description = "Name prefix and replication group ID, e.g. \"unmogrowp-prod-feast\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must start with a letter and be 2-40 lowercase letters, digits or single hyphens (ElastiCache IDs are at most 40 characters)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every taggable resource."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "VPC of the replication group (network module's vpc_id)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the cache subnet group, in at least two AZs (network module's private_subnet_ids)."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two subnets (Multi-AZ needs two AZs)."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to connect on 6379 (Feast's feature server, the Dagster run pods that materialize). Nothing else can."
  default     = []
}

variable "engine" {
  type        = string
  description = "Cache engine: valkey (default: Redis OSS 7.2 protocol, lower ElastiCache price) or redis (Redis OSS). Feast's redis online store (redis-py) speaks to both."
  default     = "valkey"

  validation {
    condition     = contains(["valkey", "redis"], var.engine)
    error_message = "engine must be valkey or redis."
  }
}

variable "engine_version" {
  type        = string
  description = "Engine version (major.minor); null = 8.0 for valkey, 7.1 for redis."
  default     = null

  validation {
    condition     = var.engine_version == null ? true : can(regex("^[0-9]+\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be major.minor, e.g. \"8.0\"."
  }
}

variable "node_type" {
  type        = string
  description = "Cache node type."
  default     = "cache.r7g.large"

  validation {
    condition     = startswith(var.node_type, "cache.")
    error_message = "node_type must be an ElastiCache node type such as cache.r7g.large."
  }
}

variable "num_cache_clusters" {
  type        = number
  description = "Nodes in the replication group (one primary, the rest replicas). At least 2 in production (Multi-AZ failover); 1 only for a throwaway staging cache with multi_az = false."
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6 && floor(var.num_cache_clusters) == var.num_cache_clusters
    error_message = "num_cache_clusters must be a whole number between 1 and 6."
  }
}

variable "multi_az" {
  type        = bool
  description = "Multi-AZ with automatic failover (needs num_cache_clusters >= 2)."
  default     = true
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days automatic snapshots are kept (0 turns snapshots off)."
  default     = 7

  validation {
    condition     = var.snapshot_retention_days >= 0 && var.snapshot_retention_days <= 35
    error_message = "snapshot_retention_days must be between 0 and 35."
  }
}

variable "snapshot_window" {
  type        = string
  description = "Daily snapshot window, UTC (hh24:mi-hh24:mi); must not overlap maintenance_window."
  default     = "02:00-03:00"
}

variable "maintenance_window" {
  type        = string
  description = "Weekly maintenance window, UTC (ddd:hh24:mi-ddd:hh24:mi)."
  default     = "sun:03:30-sun:04:30"
}

variable "apply_immediately" {
  type        = bool
  description = "Apply modifications now instead of in the next maintenance window."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the slow-log and engine-log groups, days (at least a year)."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value of at least 365."
  }
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted auth secret can still be restored (0 = delete at once; 7-30 otherwise)."
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}
