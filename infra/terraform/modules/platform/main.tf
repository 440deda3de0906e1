# The whole platform of one environment: each capability a module, wired together. The envs/
# directories only configure providers and state and choose sizes.

locals {
  # The platform's environment (src/unmogrowp/config.py), non-secret: the ConfigMap unmogrowp-env of
  # every Dagster pod. Secrets: platform_secrets below, synced into the Secret unmogrowp-secrets.
  platform_environment = {
    LAKEHOUSE_ENV                   = var.environment
    AWS_REGION                      = var.region
    UNMOGROWP_HOME                  = "/tmp/unmogrowp"
    UNMOGROWP_LANDING_URI           = module.lake.landing_uri
    UNMOGROWP_LAKE_URI              = module.lake.lake_uri
    UNMOGROWP_FRAUD_LABELS          = "s3://${module.lake.lake_bucket}/labels/fraud_labels.parquet"
    UNMOGROWP_TENANTS               = "s3://${module.lake.lake_bucket}/config/tenants.yaml"
    UNMOGROWP_PARTITIONS_START      = var.partitions_start
    UNMOGROWP_RETENTION_RAW_DAYS    = tostring(var.retention_raw_days)
    UNMOGROWP_RETENTION_SILVER_DAYS = tostring(var.retention_silver_days)
    CLICKHOUSE_HOST                 = module.clickhouse.host
    CLICKHOUSE_PORT                 = tostring(module.clickhouse.port)
    CLICKHOUSE_SECURE               = tostring(module.clickhouse.secure)
    CLICKHOUSE_USER                 = module.clickhouse.username
    SPARK_REMOTE                    = module.spark.spark_remote
    MLFLOW_TRACKING_URI             = module.mlflow.tracking_uri
    UNMOGROWP_MLFLOW_UI_URL         = module.mlflow.tracking_uri
  }
  # variable -> the Secrets Manager secret it is synced from (module dagster's ExternalSecret)
  platform_secrets = {
    CLICKHOUSE_PASSWORD       = module.clickhouse.password_secret_arn
    FEAST_REDIS_CONNECTION    = module.feast_online.auth_secret_arn
    FEAST_REGISTRY_PATH       = module.db["feast"].master_secret_arn
    UNMOGROWP_DEVICE_KEY_SALT = module.dagster.secret_arns["device_key_salt"]
    UNMOGROWP_AUDIT_SALT      = module.dagster.secret_arns["audit_salt"]
  }
  nodes = [module.eks.node_security_group_id]
}

module "network" {
  source             = "../network"
  name               = var.name
  tags               = var.tags
  cidr_block         = var.vpc_cidr
  azs                = var.azs
  single_nat_gateway = var.single_nat_gateway
}

module "lake" {
  source              = "../lake"
  name                = var.name
  tags                = var.tags
  landing_expire_days = var.retention_raw_days
}

module "eks" {
  source                       = "../eks"
  name                         = var.name
  tags                         = var.tags
  vpc_id                       = module.network.vpc_id
  private_subnet_ids           = module.network.private_subnet_ids
  kubernetes_version           = var.kubernetes_version
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  admin_principal_arns         = var.admin_principal_arns
  node_instance_types          = var.node_instance_types
  node_min_size                = var.node_min_size
  node_max_size                = var.node_max_size
  node_desired_size            = var.node_desired_size
}

# one RDS PostgreSQL per service: Dagster's run storage, MLflow's backend, Feast's SQL registry
module "db" {
  source   = "../postgres"
  for_each = toset(["dagster", "mlflow", "feast"])

  name                       = "${var.name}-${each.key}"
  tags                       = var.tags
  database_name              = each.key
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = local.nodes
  instance_class             = var.db_instance_class
  multi_az                   = var.db_multi_az
  deletion_protection        = var.db_deletion_protection
}

module "feast_online" {
  source                     = "../feast_online"
  name                       = var.name
  tags                       = var.tags
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = local.nodes
  node_type                  = var.cache_node_type
  num_cache_clusters         = var.cache_nodes
  multi_az                   = true
}

module "clickhouse" {
  source                                  = "../clickhouse"
  name                                    = var.name
  tags                                    = var.tags
  region                                  = var.region
  min_replica_memory_gb                   = var.clickhouse_min_replica_memory_gb
  max_replica_memory_gb                   = var.clickhouse_max_replica_memory_gb
  allowed_cidrs                           = concat([for ip in module.network.nat_public_ips : "${ip}/32"], var.clickhouse_extra_cidrs)
  enable_private_link                     = var.clickhouse_private_link
  vpc_id                                  = module.network.vpc_id
  subnet_ids                              = module.network.private_subnet_ids
  private_link_allowed_security_group_ids = local.nodes
}

module "spark" {
  source            = "../spark"
  name              = var.name
  tags              = var.tags
  cluster_name      = module.eks.cluster_name
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer_url   = module.eks.oidc_issuer_url
  lake_policy_arns  = module.lake.policy_arns
  kms_key_arn       = module.lake.kms_key_arn
  image             = var.spark_image
}

module "dagster" {
  source                         = "../dagster"
  name                           = var.name
  tags                           = var.tags
  oidc_provider_arn              = module.eks.oidc_provider_arn
  oidc_issuer_url                = module.eks.oidc_issuer_url
  image_repository               = var.image_repository
  image_tag                      = var.image_tag
  webserver_service_type         = var.webserver_service_type
  lake_policy_arns               = module.lake.policy_arns
  postgres_host                  = module.db["dagster"].endpoint
  postgres_port                  = module.db["dagster"].port
  postgres_database              = module.db["dagster"].database_name
  postgres_username              = module.db["dagster"].username
  postgres_master_secret_arn     = module.db["dagster"].master_secret_arn
  feast_registry_secret_arn      = module.db["feast"].master_secret_arn
  feast_registry_host            = module.db["feast"].endpoint
  feast_registry_port            = module.db["feast"].port
  feast_registry_database        = module.db["feast"].database_name
  clickhouse_password_secret_arn = module.clickhouse.password_secret_arn
  feast_online_secret_arn        = module.feast_online.auth_secret_arn
  secret_kms_key_arns = concat([for db in module.db : db.kms_key_arn],
  [module.clickhouse.kms_key_arn, module.feast_online.kms_key_arn])
  additional_secret_arns = [module.db["mlflow"].master_secret_arn]
  platform_environment   = local.platform_environment
}

module "mlflow" {
  source                      = "../mlflow"
  name                        = var.name
  tags                        = var.tags
  oidc_provider_arn           = module.eks.oidc_provider_arn
  oidc_issuer_url             = module.eks.oidc_issuer_url
  artifacts_uri               = module.lake.artifacts_uri
  mlflow_artifacts_policy_arn = module.lake.policy_arns["mlflow_artifacts"]
  kms_key_arn                 = module.lake.kms_key_arn
  postgres_host               = module.db["mlflow"].endpoint
  postgres_port               = module.db["mlflow"].port
  postgres_database           = module.db["mlflow"].database_name
  postgres_secret_arn         = module.db["mlflow"].master_secret_arn
  cluster_secret_store_name   = module.dagster.cluster_secret_store_name
}
