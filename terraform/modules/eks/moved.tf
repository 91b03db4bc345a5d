# The key moved into modules/logs-kms-key; these keep existing state.

moved {
  from = aws_kms_key.this
  to   = module.key.aws_kms_key.this
}
moved {
  from = aws_kms_alias.this
  to   = module.key.aws_kms_alias.this[0]
}
