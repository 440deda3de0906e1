variable "name" {
  type        = string
  description = "Name prefix of every resource (for example \"unmogrowp-prod\"); also the cluster's name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}$", var.name))
    error_message = "name: 2-39 characters, lowercase letters, digits and '-', starting with a letter."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags of the taggable resources."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC (module network)."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets (at least two availability zones) for the control-plane ENIs and the nodes."

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes version of the control plane and the managed node group (\"1.33\")."
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version is major.minor, for example \"1.33\"."
  }
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach a public API endpoint (CI runners). Empty (default): the endpoint is private only."
  default     = []

  validation {
    condition     = !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0") && !contains(var.endpoint_public_access_cidrs, "::/0")
    error_message = "The public endpoint must not be open to the world (0.0.0.0/0 or ::/0): list the CI egress CIDRs."
  }

  validation {
    condition     = alltrue([for cidr in var.endpoint_public_access_cidrs : can(cidrnetmask(cidr))])
    error_message = "Every entry of endpoint_public_access_cidrs must be an IPv4 CIDR block."
  }
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM principals (roles of operators or CI) given cluster-admin through EKS access entries, besides the identity that creates the cluster."
  default     = []
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the control-plane logs in CloudWatch, in days."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch's retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "node_instance_types" {
  type        = list(string)
  description = "Instance types of the managed node group (several types help spot capacity)."
  default     = ["m6i.2xlarge"]

  validation {
    condition     = length(var.node_instance_types) > 0
    error_message = "Give at least one instance type."
  }
}

variable "node_capacity_type" {
  type        = string
  description = "ON_DEMAND or SPOT."
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "node_capacity_type is ON_DEMAND or SPOT."
  }
}

variable "node_ami_type" {
  type        = string
  description = "AMI type of the managed node group (EKS-optimized Amazon Linux 2023 by default)."
  default     = "AL2023_x86_64_STANDARD"
}

variable "node_min_size" {
  type        = number
  description = "Minimum number of nodes."
  default     = 2
}

variable "node_max_size" {
  type        = number
  description = "Maximum number of nodes."
  default     = 6
}

variable "node_desired_size" {
  type        = number
  description = "Initial number of nodes (later changes by an autoscaler are ignored)."
  default     = 3

  validation {
    condition     = var.node_desired_size >= 0
    error_message = "node_desired_size must not be negative."
  }
}

variable "node_disk_size" {
  type        = number
  description = "Size of each node's encrypted gp3 root volume, in GiB (images and Spark shuffle spill)."
  default     = 100

  validation {
    condition     = var.node_disk_size >= 20
    error_message = "node_disk_size must be at least 20 GiB."
  }
}

variable "imds_hop_limit" {
  type        = number
  description = "IMDSv2 response hop limit. 1 keeps pods (which use IRSA) away from the node role's credentials; host-network pods (vpc-cni, kube-proxy) still reach IMDS."
  default     = 1

  validation {
    condition     = var.imds_hop_limit >= 1 && var.imds_hop_limit <= 64
    error_message = "imds_hop_limit is between 1 and 64."
  }
}

variable "addon_versions" {
  type        = map(string)
  description = "Pinned versions of the EKS add-ons by name (vpc-cni, coredns, kube-proxy, aws-ebs-csi-driver, eks-pod-identity-agent); unset: the default version for the cluster's Kubernetes version."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.addon_versions) : contains(["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"], k)])
    error_message = "addon_versions keys: vpc-cni, coredns, kube-proxy, aws-ebs-csi-driver, eks-pod-identity-agent."
  }
}
