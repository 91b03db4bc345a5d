output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnet IDs, in the order of var.azs: EKS nodes, the cluster's ENIs, RDS."
  value       = [for az in var.azs : aws_subnet.private[az].id]
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in the order of var.azs: NAT gateways and internet-facing load balancers."
  value       = [for az in var.azs : aws_subnet.public[az].id]
}

output "nat_public_ips" {
  description = "Egress IPs of the NAT gateways: allow-list these where this VPC's pods call out (e.g. another cluster's public API endpoint)."
  value       = [for az in local.nat_azs : aws_eip.nat[az].public_ip]
}

output "s3_prefix_list_id" {
  description = "ID of the region's S3 managed prefix list (pl-…), as routed through the gateway endpoint: use it in security groups."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}

output "s3_cidr_blocks" {
  description = "The CIDRs of that prefix list: Kubernetes NetworkPolicies cannot name a prefix list, so the rendered egress rules list these (environment.yaml modelStore.egressCIDRs)."
  value       = aws_vpc_endpoint.s3.cidr_blocks
}

output "sts_endpoint_dns" {
  description = "The name pods use for STS: with the interface endpoint's private DNS it resolves to addresses inside this VPC's private subnets (NetworkPolicy egress: generator/src/platform.ts AWS_STS)."
  value       = "sts.${data.aws_region.current.region}.amazonaws.com"
}

output "interface_endpoint_ids" {
  description = "IDs of the interface VPC endpoints, by service (sts, ...)."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}
