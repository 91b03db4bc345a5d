# The flow logs' key moved into modules/logs-kms-key; this keeps existing state.

moved {
  from = aws_kms_key.flow_logs
  to   = module.flow_logs_key.aws_kms_key.this
}
