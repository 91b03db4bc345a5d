# PostgreSQL for MLflow's tracking and registry metadata: private subnets only, reachable from
# the EKS cluster's security group only, encrypted with its own key, TLS enforced, and the
# master password generated and kept by RDS in Secrets Manager (never in Terraform state).
# MLflow gets the credentials from that secret through External Secrets (mlflow.yaml:
# existingDbConnectionSecret: mlflow-db), reading with the MLflow IRSA role (modules/iam).

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  family    = "postgres${var.engine_version}"
}

module "key" {
  source = "../logs-kms-key"

  description = "RDS ${var.identifier}: storage, Performance Insights, master user secret, logs"
  alias       = "rds/${var.identifier}"
  logs        = { statement_sid = "ExportedLogs", log_group = "/aws/rds/instance/${var.identifier}/*", arn_test = "ArnLike" }
  tags        = var.tags
}

resource "aws_db_subnet_group" "this" {
  name        = var.identifier
  description = "Private subnets of ${var.identifier}"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.identifier}-db"
  description = "PostgreSQL ${var.identifier}: reachable from the EKS cluster only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.identifier}-db" })
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = toset(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from ${each.value}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}
# No egress rule: the database opens no connections of its own.

resource "aws_db_parameter_group" "this" {
  name        = "${var.identifier}-${local.family}"
  family      = local.family
  description = "${var.identifier}: TLS only, slow and DDL statements logged"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl" # schema migrations (mlflow db upgrade) show up in the log
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000" # ms
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true # a major upgrade swaps in a new family's group
  }
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["postgresql", "upgrade"])

  name              = "/aws/rds/instance/${var.identifier}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.key.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.identifier}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = var.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class
  db_name        = var.database_name

  username                      = var.master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = module.key.arn
  # IAM authentication is on as well, for people connecting with short-lived tokens.
  iam_database_authentication_enabled = true

  allocated_storage     = var.allocated_storage_gib
  max_allocated_storage = var.max_allocated_storage_gib
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = module.key.arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.identifier}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = module.key.arn
  performance_insights_retention_period = 7

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.max_allocated_storage_gib > var.allocated_storage_gib
      error_message = "max_allocated_storage_gib (${var.max_allocated_storage_gib}) must be greater than allocated_storage_gib (${var.allocated_storage_gib}), or storage autoscaling is off."
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy_attachment.monitoring]
}
