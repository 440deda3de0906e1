variable "name" {
  type        = string
  description = "Name prefix and ClickHouse Cloud service name, e.g. \"unmogrowp-prod\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,48}[a-z0-9]$", var.name))
    error_message = "name must start with a letter and be 2-50 lowercase letters, digits or hyphens."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every taggable AWS resource (the ClickHouse service itself takes tags only from provider 3.8, see README)."
  default     = {}
}

variable "region" {
  type        = string
  description = "AWS region of the ClickHouse Cloud service; keep it the region of the lake bucket and the VPC (no cross-region transfer, and PrivateLink needs the same region)."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "tier" {
  type        = string
  description = "Legacy ClickHouse Cloud tier (development or production); null for organizations on the current tiers (Basic/Scale/Enterprise), which must not set it."
  default     = null

  validation {
    condition     = var.tier == null ? true : contains(["development", "production"], var.tier)
    error_message = "tier must be null, development or production."
  }
}

variable "min_replica_memory_gb" {
  type        = number
  description = "Smallest memory of one replica during autoscaling, GiB (a multiple of 4, at least 8). Ignored on the legacy development tier."
  default     = 16

  validation {
    condition     = var.min_replica_memory_gb >= 8 && var.min_replica_memory_gb % 4 == 0
    error_message = "min_replica_memory_gb must be a multiple of 4, at least 8."
  }
}

variable "max_replica_memory_gb" {
  type        = number
  description = "Largest memory of one replica during autoscaling, GiB (a multiple of 4, at least min_replica_memory_gb). Ignored on the legacy development tier."
  default     = 64

  validation {
    condition     = var.max_replica_memory_gb >= 8 && var.max_replica_memory_gb % 4 == 0
    error_message = "max_replica_memory_gb must be a multiple of 4, at least 8."
  }
}

variable "num_replicas" {
  type        = number
  description = "Replicas of the service; null = ClickHouse Cloud's default (3 on production tiers)."
  default     = null

  validation {
    condition     = var.num_replicas == null ? true : var.num_replicas >= 1 && var.num_replicas <= 20
    error_message = "num_replicas must be null or between 1 and 20."
  }
}

variable "idle_scaling" {
  type        = bool
  description = "Let the service scale to zero when idle. false in production: the hourly loads and dashboards would pay a cold start each time."
  default     = false
}

variable "idle_timeout_minutes" {
  type        = number
  description = "Idle minutes before the service scales to zero (only used with idle_scaling = true)."
  default     = 15

  validation {
    condition     = var.idle_timeout_minutes >= 5
    error_message = "idle_timeout_minutes must be at least 5."
  }
}

variable "release_channel" {
  type        = string
  description = "ClickHouse release channel: default or fast (fast cannot go back to default)."
  default     = "default"

  validation {
    condition     = contains(["default", "fast"], var.release_channel)
    error_message = "release_channel must be default or fast."
  }
}

variable "allowed_cidrs" {
  type        = list(string)
  description = "Public source networks allowed to reach the service (CIDRs, or bare IPs taken as /32): the network module's nat_public_ips, office/VPN ranges. Never the whole internet. Empty = no public access (PrivateLink only)."
  default     = []

  validation {
    condition = alltrue([
      for c in var.allowed_cidrs : can(cidrhost(strcontains(c, "/") ? c : "${c}/32", 0))
    ])
    error_message = "allowed_cidrs entries must be IPv4 addresses or CIDRs, e.g. 203.0.113.10 or 203.0.113.0/28."
  }

  validation {
    condition = alltrue([
      for c in var.allowed_cidrs : !strcontains(c, "/") || try(tonumber(split("/", c)[1]) >= 8, false)
    ])
    error_message = "allowed_cidrs must not open the service to the internet: no 0.0.0.0/0, and nothing broader than a /8."
  }
}

variable "backup_period_hours" {
  type        = number
  description = "Hours between backups (6, 8, 12, 16, 20, 24, 36 or 48); ignored when backup_start_time is set."
  default     = 24

  validation {
    condition     = contains([6, 8, 12, 16, 20, 24, 36, 48], var.backup_period_hours)
    error_message = "backup_period_hours must be one of 6, 8, 12, 16, 20, 24, 36, 48."
  }
}

variable "backup_retention_hours" {
  type        = number
  description = "Hours a backup is kept (24, 48, 72, 96, 120, 144, 168, 336, 504, 672 or 720)."
  default     = 168

  validation {
    condition     = contains([24, 48, 72, 96, 120, 144, 168, 336, 504, 672, 720], var.backup_retention_hours)
    error_message = "backup_retention_hours must be one of 24, 48, 72, 96, 120, 144, 168, 336, 504, 672, 720."
  }
}

variable "backup_start_time" {
  type        = string
  description = "UTC start (HH:00) of a daily 2-hour backup window; null = every backup_period_hours instead."
  default     = null

  validation {
    condition     = var.backup_start_time == null ? true : can(regex("^([01][0-9]|2[0-3]):00$", var.backup_start_time))
    error_message = "backup_start_time must be null or HH:00 (UTC)."
  }
}

variable "enable_private_link" {
  type        = bool
  description = "Reach the service through an AWS PrivateLink interface endpoint in the VPC (Scale/Enterprise plans), with a private DNS zone for its private host name."
  default     = false
}

variable "vpc_id" {
  type        = string
  description = "VPC of the PrivateLink endpoint (network module's vpc_id); required with enable_private_link."
  default     = null
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the PrivateLink endpoint, one per AZ (network module's private_subnet_ids); required with enable_private_link."
  default     = []
}

variable "private_link_allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach the PrivateLink endpoint on 8443 (HTTPS) and 9440 (native TLS)."
  default     = []
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted password secret can still be restored (0 = delete at once; 7-30 otherwise)."
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}
