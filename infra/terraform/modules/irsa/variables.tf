variable "name" {
  type        = string
  description = "Name of the IAM role (for example \"unmogrowp-prod-dagster-user-code\")."

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "An IAM role name has 1-64 characters of [A-Za-z0-9+=,.@_-]."
  }
}

variable "oidc_provider_arn" {
  type        = string
  description = "ARN of the cluster's IAM OIDC provider (module eks, output oidc_provider_arn)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/", var.oidc_provider_arn))
    error_message = "Expected an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/...)."
  }
}

variable "oidc_issuer_url" {
  type        = string
  description = "Issuer URL of the cluster's OIDC provider (module eks, output oidc_issuer_url), with or without https://."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the service account."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "A Kubernetes namespace is a DNS-1123 label (lowercase letters, digits, '-'; at most 63)."
  }
}

variable "service_account" {
  type        = string
  description = "Name of the Kubernetes service account allowed to assume the role."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", var.service_account)) && length(var.service_account) <= 253
    error_message = "A service account name is a DNS-1123 subdomain."
  }
}

variable "policy_arns" {
  type        = list(string)
  description = "ARNs of the IAM policies attached to the role (the list's length must be known at plan time)."
  default     = []
}

variable "max_session_duration" {
  type        = number
  description = "Maximum session duration of the role, in seconds (3600-43200)."
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of the taggable resources."
  default     = {}
}
