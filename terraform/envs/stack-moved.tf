# The moved blocks of every environment stack (envs/dev, envs/staging, envs/prod): each links
# this file as its moved.tf. terraform/envs itself is no stack. The modules each stack called
# moved into modules/cluster-env; these keep existing state. Only the hub (dev) has MLflow's
# database: the last block finds nothing to move in the spokes.

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
moved {
  from = module.mlflow_db
  to   = module.cluster.module.mlflow_db[0]
}
