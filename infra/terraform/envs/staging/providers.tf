provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}

# Credentials from the environment: CLICKHOUSE_ORG_ID, CLICKHOUSE_TOKEN_KEY and CLICKHOUSE_TOKEN_SECRET
# (an API key of the ClickHouse Cloud organization; never in a variable file)
provider "clickhouse" {}

# The cluster this configuration creates; tokens from the AWS CLI of whoever applies
provider "kubernetes" {
  host                   = module.platform.cluster_endpoint
  cluster_ca_certificate = base64decode(module.platform.cluster_certificate_authority)
  exec {
    api_version = "client.authentication.k8s.io/v1beta1"
    command     = "aws"
    args        = ["eks", "get-token", "--cluster-name", module.platform.cluster_name, "--region", var.region]
  }
}

provider "helm" {
  kubernetes = {
    host                   = module.platform.cluster_endpoint
    cluster_ca_certificate = base64decode(module.platform.cluster_certificate_authority)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.platform.cluster_name, "--region", var.region]
    }
  }
}
