terraform {
  # 1.10: the S3 backend's own state locking (use_lockfile), no DynamoDB table
  required_version = ">= 1.10.0, < 2.0.0"

  # the bucket, key and region come from `terraform init -backend-config=backend.hcl` (README)
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.1"
    }
    clickhouse = {
      source  = "ClickHouse/clickhouse"
      version = "~> 3.3"
    }
  }
}
