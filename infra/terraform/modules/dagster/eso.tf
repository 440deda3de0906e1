# External Secrets Operator: syncs the AWS Secrets Manager secrets into Kubernetes Secrets.
# kubernetes_manifest needs the cluster and the ESO CRDs at plan time: see README (staged apply).

resource "kubernetes_namespace_v1" "eso" {
  metadata {
    name   = var.eso_namespace
    labels = { "app.kubernetes.io/part-of" = "unmogrowp" }
  }
}

resource "helm_release" "external_secrets" {
  name       = "external-secrets"
  namespace  = kubernetes_namespace_v1.eso.metadata[0].name
  repository = "https://charts.external-secrets.io"
  chart      = "external-secrets"
  version    = var.eso_chart_version

  atomic          = true
  cleanup_on_fail = true
  max_history     = 10
  timeout         = 600

  values = [yamlencode({
    installCRDs = true
    serviceAccount = {
      create      = true
      name        = local.eso_service_account
      annotations = { "eks.amazonaws.com/role-arn" = module.eso_role.role_arn }
    }
    resources = {
      requests = { cpu = "50m", memory = "128Mi" }
      limits   = { cpu = "500m", memory = "512Mi" }
    }
    webhook = {
      resources = {
        requests = { cpu = "20m", memory = "64Mi" }
        limits   = { cpu = "200m", memory = "256Mi" }
      }
    }
    certController = {
      resources = {
        requests = { cpu = "20m", memory = "64Mi" }
        limits   = { cpu = "200m", memory = "256Mi" }
      }
    }
  })]
}

locals {
  cluster_secret_store = "${var.name}-aws-secrets-manager"

  feast_registry_host = coalesce(var.feast_registry_host, var.postgres_host)

  platform_secret_name = "unmogrowp-secrets"
  # The chart reads the Dagster database password from this Secret, key postgresql-password
  postgres_secret_name = "${var.release_name}-postgresql-secret"
}

resource "kubernetes_manifest" "cluster_secret_store" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ClusterSecretStore"
    metadata = {
      name = local.cluster_secret_store
    }
    spec = {
      provider = {
        aws = {
          service = "SecretsManager"
          region  = local.region
          auth = {
            # IRSA: ESO exchanges a token of this service account for the role's credentials
            jwt = {
              serviceAccountRef = {
                name      = local.eso_service_account
                namespace = kubernetes_namespace_v1.eso.metadata[0].name
              }
            }
          }
        }
      }
      # Only these namespaces may sync secrets through the store
      conditions = [{
        namespaces = distinct(concat([kubernetes_namespace_v1.dagster.metadata[0].name], var.secret_store_namespaces))
      }]
    }
  }

  depends_on = [helm_release.external_secrets]
}

# unmogrowp-secrets: the platform's secret environment variables (envFrom of the code location
# and of every run pod). Go templates (ESO template engine v2) compose the values.
resource "kubernetes_manifest" "platform_secrets" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata = {
      name      = local.platform_secret_name
      namespace = kubernetes_namespace_v1.dagster.metadata[0].name
    }
    spec = {
      refreshInterval = var.secret_refresh_interval
      secretStoreRef = {
        kind = "ClusterSecretStore"
        name = local.cluster_secret_store
      }
      target = {
        name           = local.platform_secret_name
        creationPolicy = "Owner"
        deletionPolicy = "Retain"
        template = {
          engineVersion = "v2"
          mergePolicy   = "Replace"
          type          = "Opaque"
          data = {
            CLICKHOUSE_PASSWORD    = "{{ .clickhouse_password }}"
            FEAST_REDIS_CONNECTION = "{{ .redis_connection }}"
            # SQLAlchemy URL of the Feast SQL registry: user and password URL-escaped
            FEAST_REGISTRY_PATH       = "postgresql+psycopg://{{ .registry_username | urlquery }}:{{ .registry_password | urlquery }}@${local.feast_registry_host}:${var.feast_registry_port}/${var.feast_registry_database}?sslmode=require"
            UNMOGROWP_DEVICE_KEY_SALT = "{{ .device_key_salt }}"
            UNMOGROWP_AUDIT_SALT      = "{{ .audit_salt }}"
          }
        }
      }
      data = [
        {
          secretKey = "clickhouse_password"
          remoteRef = { key = var.clickhouse_password_secret_arn, property = "password" }
        },
        {
          secretKey = "redis_connection"
          remoteRef = { key = var.feast_online_secret_arn, property = "connection_string" }
        },
        {
          secretKey = "registry_username"
          remoteRef = { key = local.feast_registry_secret_arn, property = "username" }
        },
        {
          secretKey = "registry_password"
          remoteRef = { key = local.feast_registry_secret_arn, property = "password" }
        },
        {
          secretKey = "device_key_salt"
          remoteRef = { key = aws_secretsmanager_secret.generated["device_key_salt"].arn }
        },
        {
          secretKey = "audit_salt"
          remoteRef = { key = aws_secretsmanager_secret.generated["audit_salt"].arn }
        },
      ]
    }
  }

  wait {
    condition {
      type   = "Ready"
      status = "True"
    }
  }

  depends_on = [
    kubernetes_manifest.cluster_secret_store,
    aws_secretsmanager_secret_version.generated,
  ]
}

# The Dagster instance's database password (the RDS master secret, rotated by RDS)
resource "kubernetes_manifest" "postgres_secret" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata = {
      name      = local.postgres_secret_name
      namespace = kubernetes_namespace_v1.dagster.metadata[0].name
    }
    spec = {
      refreshInterval = var.secret_refresh_interval
      secretStoreRef = {
        kind = "ClusterSecretStore"
        name = local.cluster_secret_store
      }
      target = {
        name           = local.postgres_secret_name
        creationPolicy = "Owner"
        deletionPolicy = "Retain"
        template = {
          engineVersion = "v2"
          mergePolicy   = "Replace"
          type          = "Opaque"
          data = {
            "postgresql-password" = "{{ .password }}"
          }
        }
      }
      data = [{
        secretKey = "password"
        remoteRef = { key = var.postgres_master_secret_arn, property = "password" }
      }]
    }
  }

  wait {
    condition {
      type   = "Ready"
      status = "True"
    }
  }

  depends_on = [kubernetes_manifest.cluster_secret_store]
}
