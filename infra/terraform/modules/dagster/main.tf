# Dagster on EKS: the official chart (webserver, daemon with the QueuedRunCoordinator and run
# monitoring, K8sRunLauncher) with one code location, `unmogrowp`, whose image runs
# `dagster api grpc -h 0.0.0.0 -p 3030 -m orchestration.definitions`. Storage is the RDS
# PostgreSQL instance; the platform's environment is the ConfigMap unmogrowp-env and the Secret
# unmogrowp-secrets (synced from Secrets Manager by the External Secrets Operator, eso.tf), both
# given to the code location and to every run pod.

resource "kubernetes_namespace_v1" "dagster" {
  metadata {
    name   = var.namespace
    labels = { "app.kubernetes.io/part-of" = "unmogrowp" }
  }
}

resource "kubernetes_config_map_v1" "platform" {
  metadata {
    name      = "unmogrowp-env"
    namespace = kubernetes_namespace_v1.dagster.metadata[0].name
    labels    = { "app.kubernetes.io/part-of" = "unmogrowp" }
  }

  data = var.platform_environment
}

locals {
  env_config_maps = [{ name = kubernetes_config_map_v1.platform.metadata[0].name }]
  env_secrets     = [{ name = local.platform_secret_name }]

  # Internal load balancer (the in-tree annotation the EKS cloud controller reads, and the AWS
  # Load Balancer Controller's, if that is installed)
  webserver_annotations = var.webserver_service_type == "LoadBalancer" ? merge(
    {
      "service.beta.kubernetes.io/aws-load-balancer-internal" = "true"
      "service.beta.kubernetes.io/aws-load-balancer-scheme"   = "internal"
    },
    length(var.webserver_source_ranges) > 0 ? {
      "service.beta.kubernetes.io/load-balancer-source-ranges" = join(",", var.webserver_source_ranges)
    } : {},
  ) : {}

  container_security_context = {
    allowPrivilegeEscalation = false
    capabilities             = { drop = ["ALL"] }
  }
  pod_security_context = {
    seccompProfile = { type = "RuntimeDefault" }
  }

  # Keys of the chart's values (helm/dagster/values.yaml, charts/dagster-user-deployments/
  # values.yaml; checked against the chart's values schema, helm/dagster/schema/, which forbids
  # unknown keys in dagsterWebserver, dagsterDaemon and runLauncher)
  dagster_values = {
    global = {
      postgresqlSecretName = local.postgres_secret_name
    }

    # External PostgreSQL (RDS): no bundled database, no chart-generated password secret
    generatePostgresqlPasswordSecret = false
    postgresql = {
      enabled            = false
      postgresqlHost     = var.postgres_host
      postgresqlUsername = var.postgres_username
      # Unused: the password comes from global.postgresqlSecretName (key postgresql-password)
      postgresqlPassword = ""
      postgresqlDatabase = var.postgres_database
      postgresqlParams   = { sslmode = "require" }
      service            = { port = var.postgres_port }
    }

    dagsterWebserver = {
      nameOverride = "webserver"
      service = {
        type        = var.webserver_service_type
        port        = 80
        annotations = local.webserver_annotations
      }
      podSecurityContext = local.pod_security_context
      securityContext    = local.container_security_context
      resources = {
        requests = { cpu = "250m", memory = "512Mi" }
        limits   = { cpu = "1", memory = "2Gi" }
      }
    }

    runLauncher = {
      type = "K8sRunLauncher"
      config = {
        k8sRunLauncher = {
          # Run pods get the platform environment (also inherited from the code location,
          # includeConfigInLaunchedRuns below)
          envConfigMaps   = local.env_config_maps
          envSecrets      = local.env_secrets
          imagePullPolicy = "Always"
          resources       = var.run_resources
        }
      }
    }

    dagsterDaemon = {
      runCoordinator = {
        enabled = true
        type    = "QueuedRunCoordinator"
        config = {
          queuedRunCoordinator = {
            maxConcurrentRuns = var.max_concurrent_runs
          }
        }
      }
      runMonitoring = {
        enabled = true
        # Fail runs whose pod never starts (image pull, capacity) instead of leaving them STARTING
        startTimeoutSeconds  = 300
        pollIntervalSeconds  = 120
        maxResumeRunAttempts = 0
      }
      podSecurityContext = local.pod_security_context
      securityContext    = local.container_security_context
      resources = {
        requests = { cpu = "250m", memory = "512Mi" }
        limits   = { cpu = "1", memory = "2Gi" }
      }
    }

    "dagster-user-deployments" = {
      enabled        = true
      enableSubchart = true
      # The code location's service account (and, through the container context, every run
      # pod's): IRSA role with the lake's pipeline and lake_reader policies
      serviceAccount = {
        create      = true
        name        = local.user_code_service_account
        annotations = { "eks.amazonaws.com/role-arn" = module.user_code_role.role_arn }
      }
      deployments = [{
        name = "unmogrowp"
        image = {
          repository = var.image_repository
          tag        = var.image_tag
          pullPolicy = "Always"
        }
        # -> dagster api grpc -h 0.0.0.0 -p 3030 -m orchestration.definitions
        dagsterApiGrpcArgs = ["-m", var.code_module]
        port               = 3030
        envConfigMaps      = local.env_config_maps
        envSecrets         = local.env_secrets
        # Runs launched from this location get its env, secrets, service account and resources
        includeConfigInLaunchedRuns = { enabled = true }
        resources                   = var.user_code_resources
        podSecurityContext          = local.pod_security_context
        securityContext             = local.container_security_context
      }]
    }
  }
}

resource "helm_release" "dagster" {
  name       = var.release_name
  namespace  = kubernetes_namespace_v1.dagster.metadata[0].name
  repository = "https://dagster-io.github.io/helm"
  chart      = "dagster"
  version    = var.chart_version

  atomic          = true
  cleanup_on_fail = true
  max_history     = 10
  # The first install runs the instance migration job and pulls the code location's image
  timeout = 900

  values = [yamlencode(local.dagster_values)]

  depends_on = [
    kubernetes_manifest.platform_secrets,
    kubernetes_manifest.postgres_secret,
  ]
}
