# EKS cluster of the platform: private API endpoint (public only for listed CI CIDRs), Kubernetes
# secrets envelope-encrypted with a CMK, every control-plane log type in CloudWatch (same CMK), one
# managed node group in the private subnets (IMDSv2 only, encrypted root volume), the IAM OIDC
# provider for IRSA and the EKS add-ons.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region

  log_group_name = "/aws/eks/${var.name}/cluster"
  log_types      = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  public_endpoint = length(var.endpoint_public_access_cidrs) > 0
}

# ---------------------------------------------------------------------------------------------
# KMS: one CMK for the Kubernetes secrets envelope encryption and the control-plane log group
# ---------------------------------------------------------------------------------------------

resource "aws_kms_key" "cluster" {
  description             = "${var.name} EKS: Kubernetes secrets envelope encryption and control-plane logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags

  # A key policy's Resource "*" is the key itself; IAM policies of this account then grant its use
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "ControlPlaneLogs"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "cluster" {
  name          = "alias/${var.name}-eks"
  target_key_id = aws_kms_key.cluster.key_id
}

# Created before the cluster so that EKS does not create it unencrypted with infinite retention
resource "aws_cloudwatch_log_group" "cluster" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.cluster.arn
  tags              = var.tags
}

# ---------------------------------------------------------------------------------------------
# Cluster
# ---------------------------------------------------------------------------------------------

resource "aws_eks_cluster" "this" {
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  enabled_cluster_log_types = local.log_types

  access_config {
    # Access entries only (no aws-auth ConfigMap); the identity running Terraform becomes admin
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  vpc_config {
    subnet_ids              = var.private_subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = local.public_endpoint
    public_access_cidrs     = local.public_endpoint ? var.endpoint_public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]

    provider {
      key_arn = aws_kms_key.cluster.arn
    }
  }

  upgrade_policy {
    # No extended-support charges: upgrade within the standard support window
    support_type = "STANDARD"
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.cluster,
    aws_iam_role_policy_attachment.cluster,
    aws_iam_role_policy.cluster_kms,
  ]
}

resource "aws_eks_access_entry" "admin" {
  for_each = toset(var.admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"
  tags          = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = toset(var.admin_principal_arns)

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin[each.value].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

# ---------------------------------------------------------------------------------------------
# IRSA: the cluster's OIDC issuer as an IAM identity provider
# ---------------------------------------------------------------------------------------------

data "tls_certificate" "oidc" {
  url = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "this" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc.certificates[0].sha1_fingerprint]
  tags            = var.tags
}

# ---------------------------------------------------------------------------------------------
# Managed node group
# ---------------------------------------------------------------------------------------------

# The nodes' own security group, beside the EKS-managed cluster security group (which already
# allows all traffic between nodes and the control plane, and all egress). Other modules allow
# ingress from this group (RDS, ElastiCache); it has no rules of its own.
resource "aws_security_group" "nodes" {
  name_prefix = "${var.name}-nodes-"
  description = "EKS nodes of ${var.name}: source group for data stores that the pods reach"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nodes" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_launch_template" "nodes" {
  name_prefix            = "${var.name}-nodes-"
  description            = "EKS managed nodes of ${var.name}: IMDSv2 only, encrypted root volume"
  update_default_version = true

  # Security groups in a launch template replace EKS's default: keep the cluster security group
  vpc_security_group_ids = [
    aws_eks_cluster.this.vpc_config[0].cluster_security_group_id,
    aws_security_group.nodes.id,
  ]

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = var.imds_hop_limit
    instance_metadata_tags      = "disabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.node_disk_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-node" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.name}-node" })
  }

  tags = var.tags
}

resource "aws_eks_node_group" "default" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "${var.name}-default"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.private_subnet_ids
  version         = var.kubernetes_version

  ami_type       = var.node_ami_type
  capacity_type  = var.node_capacity_type
  instance_types = var.node_instance_types

  scaling_config {
    min_size     = var.node_min_size
    max_size     = var.node_max_size
    desired_size = var.node_desired_size
  }

  update_config {
    max_unavailable = 1
  }

  launch_template {
    id      = aws_launch_template.nodes.id
    version = aws_launch_template.nodes.latest_version
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.node_min_size <= var.node_desired_size && var.node_desired_size <= var.node_max_size
      error_message = "Expected node_min_size <= node_desired_size <= node_max_size."
    }
    # A cluster autoscaler (or Karpenter) owns the current size after creation
    ignore_changes = [scaling_config[0].desired_size]
  }

  depends_on = [
    aws_iam_role_policy_attachment.node,
    aws_eks_addon.before_nodes,
  ]
}

# ---------------------------------------------------------------------------------------------
# Add-ons: networking before the nodes join, the rest once they run
# ---------------------------------------------------------------------------------------------

locals {
  addons_before_nodes = {
    "vpc-cni" = {
      # NetworkPolicy enforcement (the spark module restricts who reaches Spark Connect)
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
    "kube-proxy"             = { configuration_values = null }
    "eks-pod-identity-agent" = { configuration_values = null }
  }
  addons_after_nodes = {
    "coredns"            = { service_account_role_arn = null }
    "aws-ebs-csi-driver" = { service_account_role_arn = module.ebs_csi_role.role_arn }
  }
}

resource "aws_eks_addon" "before_nodes" {
  for_each = local.addons_before_nodes

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = lookup(var.addon_versions, each.key, null)
  configuration_values        = each.value.configuration_values
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags
}

resource "aws_eks_addon" "after_nodes" {
  for_each = local.addons_after_nodes

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = lookup(var.addon_versions, each.key, null)
  service_account_role_arn    = each.value.service_account_role_arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags

  depends_on = [aws_eks_node_group.default]
}
