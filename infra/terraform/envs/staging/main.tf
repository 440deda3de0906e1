locals {
  tags = { project = "unmogrowp", environment = "staging", managed_by = "terraform" }
}

# Smaller and cheaper than prod (one NAT gateway, smaller nodes and databases, a smaller ClickHouse), the same shape
module "platform" {
  source                           = "../../modules/platform"
  name                             = "unmogrowp-staging"
  environment                      = "staging"
  region                           = var.region
  tags                             = local.tags
  azs                              = var.azs
  vpc_cidr                         = "10.41.0.0/16"
  single_nat_gateway               = true
  endpoint_public_access_cidrs     = var.endpoint_public_access_cidrs
  admin_principal_arns             = var.admin_principal_arns
  node_instance_types              = ["m6i.xlarge"]
  node_min_size                    = 2
  node_max_size                    = 4
  node_desired_size                = 2
  partitions_start                 = var.partitions_start
  db_instance_class                = "db.t4g.medium"
  db_multi_az                      = true # as prod: failover and deletion protection are rehearsed here
  db_deletion_protection           = true
  cache_node_type                  = "cache.t4g.medium"
  cache_nodes                      = 2
  clickhouse_min_replica_memory_gb = 8
  clickhouse_max_replica_memory_gb = 16
  clickhouse_extra_cidrs           = var.clickhouse_extra_cidrs
  image_repository                 = var.image_repository
  image_tag                        = var.image_tag
  spark_image                      = var.spark_image
}
