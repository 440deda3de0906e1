variable "name" {
  type        = string
  description = "Name prefix and DB instance identifier, e.g. \"unmogrowp-prod-dagster\" (one instance each for Dagster run storage, the MLflow backend and Feast's SQL registry)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must start with a letter, be 2-50 lowercase letters, digits or single hyphens, and not end with a hyphen."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every taggable resource (copied to snapshots)."
  default     = {}
}

variable "database_name" {
  type        = string
  description = "Name of the database created in the instance (e.g. dagster, mlflow, feast_registry)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name)) && !contains(["postgres", "rdsadmin", "template0", "template1"], var.database_name)
    error_message = "database_name must be 1-63 lowercase letters, digits or _, start with a letter, and not be a reserved database name."
  }
}

variable "master_username" {
  type        = string
  description = "Master user name. Its password is generated and kept by RDS in Secrets Manager (manage_master_user_password); applications should get their own roles or use IAM authentication."
  default     = "dbadmin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && !contains(["admin", "postgres", "rdsadmin", "rdsrepladmin"], var.master_username)
    error_message = "master_username must be 1-16 lowercase letters, digits or _, start with a letter, and not be a reserved name."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the instance (network module's vpc_id)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the DB subnet group, in at least two AZs (network module's private_subnet_ids)."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two subnets (RDS requires two AZs)."
  }
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to connect on 5432 (e.g. the EKS node or pod security group of Dagster / MLflow / Feast). Nothing else can."
  default     = []
}

variable "instance_class" {
  type        = string
  description = "DB instance class."
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS instance class such as db.t4g.medium."
  }
}

variable "allocated_storage" {
  type        = number
  description = "Initial gp3 storage, GiB."
  default     = 50

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  type        = number
  description = "Storage autoscaling ceiling, GiB; null = 4 x allocated_storage, 0 = no autoscaling."
  default     = null

  validation {
    condition     = var.max_allocated_storage == null ? true : var.max_allocated_storage == 0 || var.max_allocated_storage <= 65536
    error_message = "max_allocated_storage must be null, 0 or at most 65536 GiB."
  }
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version: a major (\"16\", RDS picks the newest minor and auto minor upgrades keep it current) or major.minor."
  default     = "16"

  validation {
    condition     = can(regex("^1[3-9](\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be a PostgreSQL major (13-19), optionally with a minor, e.g. \"16\" or \"16.4\"."
  }
}

variable "multi_az" {
  type        = bool
  description = "Standby in a second AZ with automatic failover (production: true)."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance (set false, apply, then destroy, to remove it)."
  default     = true
}

variable "backup_retention_days" {
  type        = number
  description = "Days automated backups (and point-in-time recovery) are kept."
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "backup_window" {
  type        = string
  description = "Daily backup window, UTC (hh24:mi-hh24:mi); must not overlap maintenance_window."
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

variable "log_statement" {
  type        = string
  description = "Statements logged (PostgreSQL log_statement): none, ddl, mod or all. ddl by default: mod/all would write the SQL of data changes, values included, into the logs."
  default     = "ddl"

  validation {
    condition     = contains(["none", "ddl", "mod", "all"], var.log_statement)
    error_message = "log_statement must be none, ddl, mod or all."
  }
}

variable "log_min_duration_statement_ms" {
  type        = number
  description = "Statements running at least this long are logged with their duration (ms); -1 = off."
  default     = 1000

  validation {
    condition     = var.log_min_duration_statement_ms >= -1
    error_message = "log_min_duration_statement_ms must be -1 (off) or a duration in milliseconds."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the exported PostgreSQL and upgrade logs in CloudWatch, days (at least a year)."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value of at least 365."
  }
}

variable "monitoring_interval" {
  type        = number
  description = "Enhanced monitoring interval, seconds (1, 5, 10, 15, 30 or 60)."
  default     = 60

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be 1, 5, 10, 15, 30 or 60."
  }
}

variable "performance_insights_retention_days" {
  type        = number
  description = "Performance Insights retention, days: 7 (free) or a multiple of 31 up to 731."
  default     = 7

  validation {
    condition     = var.performance_insights_retention_days == 7 || var.performance_insights_retention_days == 731 || (var.performance_insights_retention_days % 31 == 0 && var.performance_insights_retention_days >= 31 && var.performance_insights_retention_days <= 713)
    error_message = "performance_insights_retention_days must be 7, a multiple of 31 up to 713, or 731."
  }
}
