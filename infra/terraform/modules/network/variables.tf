variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. \"unmogrowp-prod\"."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or hyphens."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every taggable resource."
  default     = {}
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC (/16 to /20). Private subnets take the first three quarters (one per AZ), public subnets /4 of the last quarter."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 20
    error_message = "cidr_block must be a valid IPv4 CIDR between /16 and /20."
  }
}

variable "azs" {
  type        = list(string)
  description = "Availability zones, one private and one public subnet in each (2 or 3; production uses 3)."

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 3 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list 2 or 3 distinct availability zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all AZs (staging: cheaper, but an AZ outage cuts egress). false = one NAT gateway per AZ (production)."
  default     = false
}

variable "eks_cluster_name" {
  type        = string
  description = "When set, subnets also get the kubernetes.io/cluster/<name> = shared tag (only needed by old AWS Load Balancer Controller releases and Karpenter discovery setups that use it)."
  default     = null
}

variable "flow_log_retention_days" {
  type        = number
  description = "Retention of the VPC flow log group, in days (at least a year)."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch Logs retention value of at least 365 (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "flow_log_traffic_type" {
  type        = string
  description = "Traffic captured by the VPC flow log: ALL, ACCEPT or REJECT."
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ACCEPT", "REJECT"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ALL, ACCEPT or REJECT."
  }
}
