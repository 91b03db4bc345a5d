# VPC for one EKS cluster: a private and a public subnet per availability zone, NAT for egress,
# and an S3 gateway endpoint so model downloads (s3://wms-models) stay on the AWS network and
# cost no NAT data processing. The endpoint's prefix list is what the rendered NetworkPolicies
# allow as egress (environments/<env>/environment.yaml: modelStore.egressCIDRs).

data "aws_region" "current" {}

locals {
  # Private subnets get the lower half of the VPC, one /19 per AZ for a /16 (pods take VPC IPs
  # with the VPC CNI, so these must be large); public subnets are small (/24 for a /16) at index
  # 200 upwards, leaving room between both for later tiers (e.g. a database subnet group).
  private_subnets = { for i, az in var.azs : az => cidrsubnet(var.cidr, 3, i) }
  public_subnets  = { for i, az in var.azs : az => cidrsubnet(var.cidr, 8, 200 + i) }

  # With a single NAT gateway every private route table points at the first AZ's.
  nat_azs = var.nat_gateway_per_az ? var.azs : [var.azs[0]]
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # EKS private endpoint and interface endpoints need DNS hostnames

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = alltrue([for az in var.azs : startswith(az, data.aws_region.current.region)])
      error_message = "Every entry of azs must be in the provider's region ${data.aws_region.current.region}; got ${join(", ", var.azs)}."
    }
  }
}

# Lock down the default security group: nothing should use it, and if something does by
# accident it must not get the default allow-all-within-the-group rule.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  for_each = local.public_subnets

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value
  # Nothing is launched here but NAT gateways and load balancers, which bring their own
  # addresses; instances never get a public IP by accident.
  map_public_ip_on_launch = false

  tags = merge(var.tags, {
    Name                                        = "${var.name}-public-${each.key}"
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  })
}

resource "aws_subnet" "private" {
  for_each = local.private_subnets

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value

  tags = merge(var.tags, {
    Name                                        = "${var.name}-private-${each.key}"
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
    "karpenter.sh/discovery"                    = var.cluster_name
  })
}

resource "aws_eip" "nat" {
  #checkov:skip=CKV2_AWS_19: these addresses belong to the NAT gateways (aws_nat_gateway.this), not to EC2 instances
  for_each = toset(local.nat_azs)

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat-${each.key}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local.nat_azs)

  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.public[each.key].id
  tags          = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  for_each = aws_subnet.public

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}

# One route table per private subnet, so that each AZ can use its own NAT gateway.
resource "aws_route_table" "private" {
  for_each = aws_subnet.private

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-private-${each.key}" })
}

resource "aws_route" "private_nat" {
  for_each = aws_route_table.private

  route_table_id         = each.value.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.nat_gateway_per_az ? each.key : var.azs[0]].id
}

resource "aws_route_table_association" "private" {
  for_each = aws_subnet.private

  subnet_id      = each.value.id
  route_table_id = aws_route_table.private[each.key].id
}

# Interface endpoints with private DNS: inside the VPC the regional names (sts.<region>.amazonaws.com)
# resolve to these endpoints' network interfaces in the private subnets. STS is what IRSA needs:
# every pod with a role trades its projected token at STS (AssumeRoleWithWebIdentity) before
# any other AWS call; the model servers' NetworkPolicies allow exactly that (HTTPS to the VPC
# supernet, generator/src/platform.ts AWS_STS), and nothing else on the internet.
resource "aws_security_group" "endpoints" {
  name_prefix = "${var.name}-endpoints-"
  description = "${var.name}: HTTPS from the VPC to the interface VPC endpoints"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-endpoints" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from pods and nodes in this VPC"
  cidr_ipv4         = aws_vpc.this.cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  tags              = var.tags
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoints)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = [for az in var.azs : aws_subnet.private[az].id]
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Gateway endpoint: free, and adds the region's S3 prefix list to the private route tables.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for rt in aws_route_table.private : rt.id]

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

# ---------------------------------------------------------------------------------------------
# VPC flow logs (rejected and accepted traffic) to CloudWatch Logs, encrypted with our own key.

data "aws_caller_identity" "current" {}

# CloudWatch Logs encrypts this VPC's flow log group with it, and nothing else.
module "flow_logs_key" {
  source = "../logs-kms-key"

  description = "${var.name}: VPC flow logs"
  logs        = { statement_sid = "CloudWatchLogsFlowLogs", log_group = "/aws/vpc/${var.name}/flow-logs" }
  tags        = var.tags
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/aws/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = module.flow_logs_key.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "flow_logs_write" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs_write.json
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
  tags                 = var.tags
}
