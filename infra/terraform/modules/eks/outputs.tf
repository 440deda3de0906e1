output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server (the kubernetes and helm providers' host)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_certificate_authority" {
  description = "Base64-encoded certificate authority of the API server (base64decode it for the providers' cluster_ca_certificate)."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider, for IRSA trust policies (module irsa)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer_url" {
  description = "Issuer URL of the cluster's OIDC provider (https://...)."
  value       = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

output "node_security_group_id" {
  description = "Security group of the nodes (and so of the pods): allow it as a source on RDS, ElastiCache and other data stores."
  value       = aws_security_group.nodes.id
}

output "cluster_security_group_id" {
  description = "EKS-managed cluster security group (control plane <-> nodes)."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "node_role_arn" {
  description = "IAM role of the managed nodes."
  value       = aws_iam_role.node.arn
}

output "kms_key_arn" {
  description = "CMK of the cluster's secrets envelope encryption and control-plane logs."
  value       = aws_kms_key.cluster.arn
}
