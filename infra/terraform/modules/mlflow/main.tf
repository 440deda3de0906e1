# MLflow tracking server on EKS: PostgreSQL backend store (RDS), artifacts served by the server
# from S3 (--serve-artifacts --artifacts-destination s3://...), IRSA for S3. The database URL
# with its password is a file of a Secret synced by the External Secrets Operator; the
# container's shell exports it as MLFLOW_BACKEND_STORE_URI, which `mlflow server` reads for
# --backend-store-uri: the password is in no command line and in no pod spec.

locals {
  service_name    = "mlflow"
  service_account = "mlflow"
  port            = 5000
  labels          = { "app.kubernetes.io/name" = "mlflow", "app.kubernetes.io/part-of" = "unmogrowp" }

  secret_name = "mlflow-backend-store"
  secret_dir  = "/etc/mlflow/secrets"
  uid         = 10001

  # Host headers of the Service (the DNS-rebinding protection of MLflow >= 3.5 rejects others)
  service_hosts = [
    local.service_name,
    "${local.service_name}.${var.namespace}",
    "${local.service_name}.${var.namespace}.svc",
    "${local.service_name}.${var.namespace}.svc.cluster.local",
  ]
  allowed_hosts = distinct(concat(
    ["localhost", "localhost:${local.port}"],
    local.service_hosts,
    [for h in local.service_hosts : "${h}:${local.port}"],
    var.allowed_hosts,
  ))

  server_command = join(" ", [
    # $$( is Kubernetes' escape of $( : the shell, not the kubelet, runs the substitution
    "export MLFLOW_BACKEND_STORE_URI=\"$$(cat ${local.secret_dir}/backend-store-uri)\" &&",
    "exec mlflow server --host 0.0.0.0 --port ${local.port} --workers ${var.workers}",
    "--serve-artifacts --artifacts-destination '${var.artifacts_uri}'",
  ])
}

resource "kubernetes_namespace_v1" "mlflow" {
  metadata {
    name   = var.namespace
    labels = { "app.kubernetes.io/part-of" = "unmogrowp" }
  }
}

# --- IAM -------------------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "ArtifactObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_policy" "kms" {
  name        = "${var.name}-mlflow-kms"
  description = "MLflow of ${var.name}: use the artifacts bucket's CMK"
  policy      = data.aws_iam_policy_document.kms.json
  tags        = var.tags
}

module "role" {
  source = "../irsa"

  name              = "${var.name}-mlflow"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  namespace         = kubernetes_namespace_v1.mlflow.metadata[0].name
  service_account   = local.service_account
  policy_arns       = [var.mlflow_artifacts_policy_arn, aws_iam_policy.kms.arn]
  tags              = var.tags
}

resource "kubernetes_service_account_v1" "mlflow" {
  metadata {
    name        = local.service_account
    namespace   = kubernetes_namespace_v1.mlflow.metadata[0].name
    labels      = local.labels
    annotations = { "eks.amazonaws.com/role-arn" = module.role.role_arn }
  }

  # The IRSA token is a projected volume of its own; the Kubernetes API token is not needed
  automount_service_account_token = false
}

# --- The backend store URL, synced from Secrets Manager ----------------------------------------

resource "kubernetes_manifest" "backend_store" {
  manifest = {
    apiVersion = "external-secrets.io/v1"
    kind       = "ExternalSecret"
    metadata = {
      name      = local.secret_name
      namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
    }
    spec = {
      refreshInterval = var.secret_refresh_interval
      secretStoreRef = {
        kind = "ClusterSecretStore"
        name = var.cluster_secret_store_name
      }
      target = {
        name           = local.secret_name
        creationPolicy = "Owner"
        deletionPolicy = "Retain"
        template = {
          engineVersion = "v2"
          mergePolicy   = "Replace"
          type          = "Opaque"
          data = {
            "backend-store-uri" = "postgresql+psycopg2://{{ .username | urlquery }}:{{ .password | urlquery }}@${var.postgres_host}:${var.postgres_port}/${var.postgres_database}?sslmode=require"
          }
        }
      }
      data = [
        {
          secretKey = "username"
          remoteRef = { key = var.postgres_secret_arn, property = "username" }
        },
        {
          secretKey = "password"
          remoteRef = { key = var.postgres_secret_arn, property = "password" }
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
}

# --- Server ----------------------------------------------------------------------------------

resource "kubernetes_deployment_v1" "mlflow" {
  #checkov:skip=CKV_K8S_43:The image is a variable (var.image): environments pin it as image@sha256:...; the module default is an exact MLflow release tag.
  metadata {
    name      = "mlflow"
    namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
    labels    = local.labels
  }

  spec {
    replicas = var.replicas

    selector {
      match_labels = local.labels
    }

    template {
      metadata {
        labels = local.labels
      }

      spec {
        service_account_name            = kubernetes_service_account_v1.mlflow.metadata[0].name
        automount_service_account_token = false

        security_context {
          run_as_non_root = true
          run_as_user     = local.uid
          run_as_group    = local.uid
          fs_group        = local.uid

          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name              = "mlflow"
          image             = var.image
          image_pull_policy = "Always"
          command           = ["/bin/sh", "-c", local.server_command]

          env {
            name  = "MLFLOW_SERVER_ALLOWED_HOSTS"
            value = join(",", local.allowed_hosts)
          }

          env {
            name  = "HOME"
            value = "/tmp"
          }

          port {
            name           = "http"
            container_port = local.port
          }

          resources {
            requests = var.resources.requests
            limits   = var.resources.limits
          }

          security_context {
            allow_privilege_escalation = false
            privileged                 = false
            read_only_root_filesystem  = true
            run_as_non_root            = true
            run_as_user                = local.uid

            capabilities {
              drop = ["ALL"]
            }
          }

          # The probes present an allowed Host header (a pod IP would be accepted too)
          readiness_probe {
            http_get {
              path = "/health"
              port = "http"

              http_header {
                name  = "Host"
                value = "localhost"
              }
            }
            initial_delay_seconds = 10
            period_seconds        = 10
          }

          liveness_probe {
            http_get {
              path = "/health"
              port = "http"

              http_header {
                name  = "Host"
                value = "localhost"
              }
            }
            initial_delay_seconds = 60
            period_seconds        = 20
            failure_threshold     = 6
          }

          volume_mount {
            name       = "backend-store"
            mount_path = local.secret_dir
            read_only  = true
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }
        }

        volume {
          name = "backend-store"
          secret {
            secret_name  = local.secret_name
            default_mode = "0440"
          }
        }

        volume {
          name = "tmp"
          empty_dir {
            size_limit = "5Gi"
          }
        }
      }
    }
  }

  depends_on = [kubernetes_manifest.backend_store]
}

resource "kubernetes_service_v1" "mlflow" {
  metadata {
    name      = local.service_name
    namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
    labels    = local.labels
  }

  spec {
    type     = "ClusterIP"
    selector = local.labels

    port {
      name        = "http"
      port        = local.port
      target_port = "http"
    }
  }
}

# The tracking server has no authentication of its own: only the client namespaces reach it
resource "kubernetes_network_policy_v1" "mlflow" {
  metadata {
    name      = "mlflow"
    namespace = kubernetes_namespace_v1.mlflow.metadata[0].name
    labels    = local.labels
  }

  spec {
    pod_selector {
      match_labels = local.labels
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
        port     = local.port
        protocol = "TCP"
      }
    }
  }
}
