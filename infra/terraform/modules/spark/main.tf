# Spark Connect server: the Dagster run pods open sessions at
# sc://spark-connect.<namespace>.svc.cluster.local:15002. The server is the Spark driver (client
# mode) and starts executors as Kubernetes pods in this namespace (dynamic allocation), with the
# Delta Lake jars and S3A through IRSA.

locals {
  image = coalesce(var.image, "${var.emr_image_registry_account}.dkr.ecr.${local.region}.amazonaws.com/spark/${var.emr_image_tag}")

  service_account = "spark-connect"
  app_labels      = { "app.kubernetes.io/name" = "spark-connect", "app.kubernetes.io/part-of" = "unmogrowp" }
  grpc_port       = 15002
  driver_port     = 7078
  block_port      = 7079
  ui_port         = 4040

  conf_dir          = "/opt/spark-connect"
  executor_template = "executor-pod-template.yaml"

  spark_conf = merge({
    # Executors as Kubernetes pods, started by this server (the driver) through the API server
    "spark.master"                                              = "k8s://https://kubernetes.default.svc"
    "spark.submit.deployMode"                                   = "client"
    "spark.kubernetes.namespace"                                = var.namespace
    "spark.kubernetes.container.image"                          = local.image
    "spark.kubernetes.container.image.pullPolicy"               = "Always"
    "spark.kubernetes.authenticate.driver.serviceAccountName"   = local.service_account
    "spark.kubernetes.authenticate.executor.serviceAccountName" = local.service_account
    "spark.kubernetes.executor.podNamePrefix"                   = "spark-connect"
    "spark.kubernetes.executor.podTemplateFile"                 = "${local.conf_dir}/${local.executor_template}"
    "spark.kubernetes.executor.deleteOnTermination"             = "true"
    "spark.driver.bindAddress"                                  = "0.0.0.0"
    "spark.driver.port"                                         = tostring(local.driver_port)
    "spark.blockManager.port"                                   = tostring(local.block_port)
    "spark.driver.memory"                                       = var.driver_memory
    "spark.executor.memory"                                     = var.executor_memory
    "spark.executor.cores"                                      = tostring(var.executor_cores)
    "spark.kubernetes.executor.request.cores"                   = tostring(var.executor_cores)
    "spark.dynamicAllocation.enabled"                           = "true"
    "spark.dynamicAllocation.shuffleTracking.enabled"           = "true"
    "spark.dynamicAllocation.minExecutors"                      = tostring(var.min_executors)
    "spark.dynamicAllocation.maxExecutors"                      = tostring(var.max_executors)
    "spark.connect.grpc.binding.port"                           = tostring(local.grpc_port)
    "spark.local.dir"                                           = "/tmp/spark-local"
    # Delta Lake
    "spark.jars"                      = join(",", var.delta_jars)
    "spark.sql.extensions"            = "io.delta.sql.DeltaSparkSessionExtension"
    "spark.sql.catalog.spark_catalog" = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    # s3:// (the lake's URIs) through S3A, credentials from the IRSA web-identity token
    "spark.hadoop.fs.s3.impl"                      = "org.apache.hadoop.fs.s3a.S3AFileSystem"
    "spark.hadoop.fs.s3a.impl"                     = "org.apache.hadoop.fs.s3a.S3AFileSystem"
    "spark.hadoop.fs.s3a.aws.credentials.provider" = var.s3a_credentials_provider
    "spark.hadoop.fs.s3a.endpoint.region"          = local.region
  }, var.extra_spark_conf)

  # Per pod, expanded by Kubernetes from the env vars below: executors reach the driver at its IP,
  # and are owned by (deleted with) the server's pod
  pod_conf = {
    "spark.driver.host"                = "$(POD_IP)"
    "spark.kubernetes.driver.pod.name" = "$(POD_NAME)"
  }

  spark_args = flatten([for k, v in merge(local.spark_conf, local.pod_conf) : ["--conf", "${k}=${v}"]])

  pod_security_context = {
    runAsNonRoot   = true
    runAsUser      = var.run_as_user
    runAsGroup     = var.run_as_user
    fsGroup        = var.run_as_user
    seccompProfile = { type = "RuntimeDefault" }
  }
}

resource "kubernetes_service_account_v1" "spark_connect" {
  metadata {
    name        = local.service_account
    namespace   = kubernetes_namespace_v1.spark.metadata[0].name
    labels      = local.app_labels
    annotations = { "eks.amazonaws.com/role-arn" = module.spark_connect_role.role_arn }
  }
}

module "spark_connect_role" {
  source = "../irsa"

  name              = "${var.name}-spark-connect"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  namespace         = var.namespace
  service_account   = local.service_account
  policy_arns       = [var.lake_policy_arns["pipeline"], aws_iam_policy.kms.arn]
  tags              = var.tags
}

# The driver manages its executor pods (and their services, config maps, volumes) in this namespace
resource "kubernetes_role_v1" "spark_connect" {
  metadata {
    name      = "spark-connect-driver"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
    labels    = local.app_labels
  }

  rule {
    api_groups = [""]
    resources  = ["pods", "services", "configmaps", "persistentvolumeclaims"]
    verbs      = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
  }
}

resource "kubernetes_role_binding_v1" "spark_connect" {
  metadata {
    name      = "spark-connect-driver"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
    labels    = local.app_labels
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.spark_connect.metadata[0].name
  }

  subject {
    kind      = "ServiceAccount"
    name      = kubernetes_service_account_v1.spark_connect.metadata[0].name
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
  }
}

# Executors: the same hardening as the server (Spark merges its own container into this template)
resource "kubernetes_config_map_v1" "spark_connect" {
  metadata {
    name      = "spark-connect"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
    labels    = local.app_labels
  }

  data = {
    (local.executor_template) = yamlencode({
      apiVersion = "v1"
      kind       = "Pod"
      metadata   = { labels = { "app.kubernetes.io/name" = "spark-connect-executor", "app.kubernetes.io/part-of" = "unmogrowp" } }
      spec = {
        securityContext = local.pod_security_context
        containers = [{
          name = "spark-kubernetes-executor"
          securityContext = {
            allowPrivilegeEscalation = false
            capabilities             = { drop = ["ALL"] }
          }
        }]
      }
    })
  }
}

resource "kubernetes_deployment_v1" "spark_connect" {
  #checkov:skip=CKV_K8S_14:the image comes from a required input without a default (platform spark_image, validated there to carry a digest or a fixed tag, never latest), which checkov cannot resolve
  #checkov:skip=CKV_K8S_43:The image is a variable (var.image): environments pin it as repository@sha256:...; the module default is a dated EMR release tag, resolved per region.
  metadata {
    name      = "spark-connect"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
    labels    = local.app_labels
  }

  spec {
    # One driver: Spark Connect sessions live in the server's memory
    replicas = 1

    strategy {
      type = "Recreate"
    }

    selector {
      match_labels = local.app_labels
    }

    template {
      metadata {
        labels = local.app_labels
      }

      spec {
        service_account_name = kubernetes_service_account_v1.spark_connect.metadata[0].name
        # The server is the Spark driver: its token creates and deletes the executor pods
        automount_service_account_token = true

        # The image's own non-root user (an arbitrary UID has no passwd entry there, and Hadoop's
        # login needs one)
        security_context {
          run_as_non_root = true
          run_as_user     = var.run_as_user
          run_as_group    = var.run_as_user
          fs_group        = var.run_as_user

          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "spark-connect"
          image             = local.image
          image_pull_policy = "Always"
          command           = ["${var.spark_home}/sbin/start-connect-server.sh"]
          args              = local.spark_args

          env {
            name = "POD_IP"
            value_from {
              field_ref {
                field_path = "status.podIP"
              }
            }
          }

          env {
            name = "POD_NAME"
            value_from {
              field_ref {
                field_path = "metadata.name"
              }
            }
          }

          # Run in the foreground (the container's process), writing only under /tmp
          env {
            name  = "SPARK_NO_DAEMONIZE"
            value = "true"
          }

          env {
            name  = "SPARK_LOG_DIR"
            value = "/tmp/spark-logs"
          }

          env {
            name  = "SPARK_PID_DIR"
            value = "/tmp"
          }

          env {
            name  = "HOME"
            value = "/tmp"
          }

          port {
            name           = "grpc"
            container_port = local.grpc_port
          }

          port {
            name           = "driver"
            container_port = local.driver_port
          }

          port {
            name           = "blockmanager"
            container_port = local.block_port
          }

          port {
            name           = "ui"
            container_port = local.ui_port
          }

          resources {
            requests = var.server_resources.requests
            limits   = var.server_resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            privileged                 = false
            read_only_root_filesystem  = var.read_only_root_filesystem
            run_as_non_root            = true
            run_as_user                = var.run_as_user

            capabilities {
              drop = ["ALL"]
            }
          }

          readiness_probe {
            tcp_socket {
              port = local.grpc_port
            }
            initial_delay_seconds = 20
            period_seconds        = 10
          }

          liveness_probe {
            tcp_socket {
              port = local.grpc_port
            }
            initial_delay_seconds = 90
            period_seconds        = 20
            failure_threshold     = 6
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "conf"
            mount_path = local.conf_dir
            read_only  = true
          }
        }

        volume {
          name = "tmp"
          empty_dir {
            size_limit = "20Gi"
          }
        }

        volume {
          name = "conf"
          config_map {
            name = kubernetes_config_map_v1.spark_connect.metadata[0].name
          }
        }
      }
    }
  }

  depends_on = [kubernetes_role_binding_v1.spark_connect]
}

resource "kubernetes_service_v1" "spark_connect" {
  metadata {
    name      = "spark-connect"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
    labels    = local.app_labels
  }

  spec {
    type     = "ClusterIP"
    selector = local.app_labels

    port {
      name        = "grpc"
      port        = local.grpc_port
      target_port = "grpc"
    }

    port {
      name        = "ui"
      port        = local.ui_port
      target_port = "ui"
    }
  }
}

# Spark Connect has no authentication of its own: only the client namespaces (Dagster runs) reach
# its gRPC port; this namespace's executors reach the driver's ports.
resource "kubernetes_network_policy_v1" "spark_connect" {
  metadata {
    name      = "spark-connect"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
    labels    = local.app_labels
  }

  spec {
    pod_selector {
      match_labels = local.app_labels
    }

    policy_types = ["Ingress"]

    ingress {
      from {
        namespace_selector {
          match_expressions {
            key      = "kubernetes.io/metadata.name"
            operator = "In"
            values   = var.client_namespaces
          }
        }
      }

      ports {
        port     = local.grpc_port
        protocol = "TCP"
      }
    }

    # Executors (labelled spark-role=executor by Spark) reach the driver and block manager ports
    ingress {
      from {
        pod_selector {
          match_labels = { "spark-role" = "executor" }
        }
      }
    }
  }
}
