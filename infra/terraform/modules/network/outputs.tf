output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnet IDs, in the order of var.azs (EKS nodes, RDS, ElastiCache, PrivateLink endpoints)."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in the order of var.azs (NAT gateways, internet-facing load balancers)."
  value       = aws_subnet.public[*].id
}

output "private_route_table_ids" {
  description = "Route table IDs of the private subnets (one per AZ)."
  value       = aws_route_table.private[*].id
}

output "nat_public_ips" {
  description = "Public IPs of the NAT gateways: every egress from the private subnets leaves from these (ClickHouse Cloud's IP access list, as /32s)."
  value       = aws_eip.nat[*].public_ip
}

output "s3_gateway_endpoint_id" {
  description = "ID of the S3 gateway endpoint (usable in bucket policies as aws:SourceVpce)."
  value       = aws_vpc_endpoint.s3.id
}

output "flow_log_group_name" {
  description = "CloudWatch log group holding the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
