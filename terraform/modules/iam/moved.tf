# The IRSA roles moved into modules/irsa-role (roles.tf); these keep existing state.

moved {
  from = aws_iam_role.model_reader[0]
  to   = module.irsa_role["model_reader"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.model_reader[0]
  to   = module.irsa_role["model_reader"].aws_iam_role_policy.this
}
moved {
  from = aws_iam_role.mlflow[0]
  to   = module.irsa_role["mlflow"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.mlflow[0]
  to   = module.irsa_role["mlflow"].aws_iam_role_policy.this
}
moved {
  from = aws_iam_role.argocd_hub[0]
  to   = module.irsa_role["argocd_hub"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.argocd_hub[0]
  to   = module.irsa_role["argocd_hub"].aws_iam_role_policy.this
}
moved {
  from = aws_iam_role.platform["external_secrets"]
  to   = module.irsa_role["external_secrets"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.platform["external_secrets"]
  to   = module.irsa_role["external_secrets"].aws_iam_role_policy.this
}
moved {
  from = aws_iam_role.platform["load_balancer_controller"]
  to   = module.irsa_role["load_balancer_controller"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.platform["load_balancer_controller"]
  to   = module.irsa_role["load_balancer_controller"].aws_iam_role_policy.this
}
moved {
  from = aws_iam_role.platform["cert_manager"]
  to   = module.irsa_role["cert_manager"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.platform["cert_manager"]
  to   = module.irsa_role["cert_manager"].aws_iam_role_policy.this
}
moved {
  from = aws_iam_role.platform["karpenter"]
  to   = module.irsa_role["karpenter"].aws_iam_role.this
}
moved {
  from = aws_iam_role_policy.platform["karpenter"]
  to   = module.irsa_role["karpenter"].aws_iam_role_policy.this
}
