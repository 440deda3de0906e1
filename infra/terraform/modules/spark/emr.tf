# EMR on EKS: the virtual cluster on the namespace, the RBAC that EMR's service-linked role needs
# in it (Role and RoleBinding emr-containers as the EMR on EKS guide documents, the user mapped
# through an EKS access entry), and the job execution role that EMR job pods assume.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  issuer     = trimprefix(var.oidc_issuer_url, "https://")

  emr_service_linked_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers"
  emr_verbs                   = ["get", "list", "watch", "describe", "create", "edit", "delete", "annotate", "patch", "label"]
}

resource "kubernetes_namespace_v1" "spark" {
  metadata {
    name   = var.namespace
    labels = { "app.kubernetes.io/part-of" = "unmogrowp" }
  }
}

resource "kubernetes_role_v1" "emr_containers" {
  metadata {
    name      = "emr-containers"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
  }

  rule {
    api_groups = [""]
    resources  = ["namespaces"]
    verbs      = ["get"]
  }

  rule {
    api_groups = [""]
    resources  = ["serviceaccounts", "services", "configmaps", "events", "pods", "pods/log"]
    verbs      = concat(local.emr_verbs, ["deletecollection"])
  }

  rule {
    api_groups = [""]
    resources  = ["secrets"]
    verbs      = ["create", "patch", "delete", "watch"]
  }

  rule {
    api_groups = ["apps"]
    resources  = ["statefulsets", "deployments"]
    verbs      = local.emr_verbs
  }

  rule {
    api_groups = ["batch"]
    resources  = ["jobs"]
    verbs      = local.emr_verbs
  }

  rule {
    api_groups = ["extensions", "networking.k8s.io"]
    resources  = ["ingresses"]
    verbs      = local.emr_verbs
  }

  rule {
    api_groups = ["rbac.authorization.k8s.io"]
    resources  = ["roles", "rolebindings"]
    verbs      = concat(local.emr_verbs, ["deletecollection"])
  }

  rule {
    api_groups = [""]
    resources  = ["persistentvolumeclaims"]
    verbs      = concat(local.emr_verbs, ["deletecollection"])
  }
}

resource "kubernetes_role_binding_v1" "emr_containers" {
  metadata {
    name      = "emr-containers"
    namespace = kubernetes_namespace_v1.spark.metadata[0].name
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.emr_containers.metadata[0].name
  }

  subject {
    api_group = "rbac.authorization.k8s.io"
    kind      = "User"
    name      = "emr-containers"
  }
}

# EMR's service-linked role authenticates as the Kubernetes user emr-containers (the cluster uses
# access entries, not the aws-auth ConfigMap). The service-linked role must exist in the account
# (created by the first EMR on EKS call, or `aws iam create-service-linked-role
# --aws-service-name emr-containers.amazonaws.com`).
resource "aws_eks_access_entry" "emr_containers" {
  count = var.manage_emr_access_entry ? 1 : 0

  cluster_name  = var.cluster_name
  principal_arn = local.emr_service_linked_role_arn
  type          = "STANDARD"
  user_name     = "emr-containers"
  tags          = var.tags
}

resource "aws_emrcontainers_virtual_cluster" "this" {
  name = "${var.name}-spark"

  container_provider {
    id   = var.cluster_name
    type = "EKS"

    info {
      eks_info {
        namespace = kubernetes_namespace_v1.spark.metadata[0].name
      }
    }
  }

  tags = var.tags

  depends_on = [
    kubernetes_role_binding_v1.emr_containers,
    aws_eks_access_entry.emr_containers,
  ]
}

# --- IAM: the lake CMK, the job execution role ------------------------------------------------

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "LakeObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_policy" "kms" {
  name        = "${var.name}-spark-kms"
  description = "Spark of ${var.name}: use the lake's CMK"
  policy      = data.aws_iam_policy_document.kms.json
  tags        = var.tags
}

# EMR on EKS creates the job's service accounts as
# emr-containers-sa-<component>-<role>-<account>-<base36 of the role name>: the trust allows those
# of this namespace (the EMR guide's `update-role-trust-policy` writes the same pattern).
data "aws_iam_policy_document" "job_execution_trust" {
  statement {
    sid     = "EmrOnEksJobs"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringLike"
      variable = "${local.issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:emr-containers-sa-*-*-${local.account_id}-*"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "job_execution" {
  name               = "${var.name}-spark-job-execution"
  description        = "EMR on EKS job execution role of ${var.name} (fraud features and models)"
  assume_role_policy = data.aws_iam_policy_document.job_execution_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "job_execution" {
  count = 2

  role       = aws_iam_role.job_execution.name
  policy_arn = [var.lake_policy_arns["pipeline"], aws_iam_policy.kms.arn][count.index]
}
