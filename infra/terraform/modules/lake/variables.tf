variable "name" {
  type        = string
  description = "Name prefix, e.g. \"unmogrowp-prod\": the buckets are <name>-landing, <name>-lake, <name>-mlflow-artifacts and <name>-access-logs (S3 names are global: pick a prefix nobody else uses)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,44}[a-z0-9]$", var.name))
    error_message = "name must be 3-46 lowercase letters, digits or hyphens (the longest bucket suffix, -mlflow-artifacts, must fit S3's 63 characters)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every taggable resource."
  default     = {}
}

variable "landing_expire_days" {
  type        = number
  description = "Days after which landing objects (raw SDK batches with every identifier and full IPs, cost reports) expire. Keep it equal to UNMOGROWP_RETENTION_RAW_DAYS (default 30, src/unmogrowp/privacy)."
  default     = 30

  validation {
    condition     = var.landing_expire_days >= 1 && floor(var.landing_expire_days) == var.landing_expire_days
    error_message = "landing_expire_days must be a whole number of days, at least 1."
  }
}

variable "landing_ia_days" {
  type        = number
  description = "Days after which landing objects move to STANDARD_IA; null = never. S3 requires at least 30, and it must be below landing_expire_days."
  default     = null

  validation {
    condition     = var.landing_ia_days == null ? true : var.landing_ia_days >= 30 && floor(var.landing_ia_days) == var.landing_ia_days
    error_message = "landing_ia_days must be null or a whole number of days, at least 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "noncurrent_version_days" {
  type        = number
  description = "Days a noncurrent object version is kept, on every bucket: deleted or vacuumed Delta files and erased data really go after this."
  default     = 7

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of days, at least 1."
  }
}

variable "abort_multipart_days" {
  type        = number
  description = "Days after which incomplete multipart uploads are aborted (their parts deleted)."
  default     = 7

  validation {
    condition     = var.abort_multipart_days >= 1 && floor(var.abort_multipart_days) == var.abort_multipart_days
    error_message = "abort_multipart_days must be a whole number of days, at least 1."
  }
}

variable "access_log_days" {
  type        = number
  description = "Days the S3 server access logs are kept."
  default     = 365

  validation {
    condition     = var.access_log_days >= 1 && floor(var.access_log_days) == var.access_log_days
    error_message = "access_log_days must be a whole number of days, at least 1."
  }
}

variable "lake_prefix" {
  type        = string
  description = "Key prefix of the Delta tables inside the lake bucket (lake_uri = s3://<lake bucket>/<lake_prefix>)."
  default     = "lake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]*$", var.lake_prefix))
    error_message = "lake_prefix must be one path segment: lowercase letters, digits, _ or -, no slashes."
  }
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Waiting period before the CMK is deleted after a destroy (7-30 days)."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Allow terraform destroy to delete non-empty buckets (keep false outside throwaway environments)."
  default     = false
}
