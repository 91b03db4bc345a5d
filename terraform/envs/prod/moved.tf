# The stack's modules moved into modules/cluster-env; these keep existing state.

moved {
  from = module.network
  to   = module.cluster.module.network
}
moved {
  from = module.eks
  to   = module.cluster.module.eks
}
moved {
  from = module.iam
  to   = module.cluster.module.iam
}
