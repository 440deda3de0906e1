locals {
  tags = { project = "unmogrowp", environment = "prod", managed_by = "terraform" }
}

module "platform" {
  source                       = "../../modules/platform"
  name                         = "unmogrowp-prod"
  environment                  = "prod"
  region                       = var.region
  tags                         = local.tags
  azs                          = var.azs
  vpc_cidr                     = "10.40.0.0/16"
  single_nat_gateway           = false
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  admin_principal_arns         = var.admin_principal_arns
  node_instance_types          = ["m6i.2xlarge", "m6a.2xlarge"]
  node_min_size                = 3
  node_max_size                = 10
  node_desired_size            = 3
  partitions_start             = var.partitions_start
  db_instance_class            = "db.r7g.large"
  db_multi_az                  = true
  db_deletion_protection       = true
  cache_node_type              = "cache.r7g.large"
  cache_nodes                  = 2
  clickhouse_extra_cidrs       = var.clickhouse_extra_cidrs
  image_repository             = var.image_repository
  image_tag                    = var.image_tag
  spark_image                  = var.spark_image
}
