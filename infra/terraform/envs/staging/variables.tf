variable "region" {
  type        = string
  description = "AWS region of the environment."
  default     = "eu-west-1"
}

variable "azs" {
  type        = list(string)
  description = "Availability zones of the environment."
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "image_repository" {
  type        = string
  description = "ECR repository of the project's image."
}

variable "image_tag" {
  type        = string
  description = "Image tag to deploy (the git commit of the build)."
}

variable "spark_image" {
  type        = string
  description = "Spark Connect server image (Spark 4.2, Delta jars, Python 3.11 + pandas + pyarrow), by digest."
}

variable "partitions_start" {
  type        = string
  description = "First partition date (YYYY-MM-DD): the landing zone's first day."
}

variable "endpoint_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs of the CI runners and operators that reach the EKS API (empty: private only, apply from inside the VPC)."
  default     = []
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM roles given cluster-admin (operators, the CI deploy role)."
  default     = []
}

variable "clickhouse_extra_cidrs" {
  type        = list(string)
  description = "Office/VPN networks allowed to reach ClickHouse Cloud besides the VPC's NAT addresses."
  default     = []
}
