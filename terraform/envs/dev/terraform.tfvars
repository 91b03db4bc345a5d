# dev: small, and the hub. Its cluster also runs Argo CD (which calls it in-cluster), the
# monitoring stack and MLflow, and Argo CD manages wms-staging and wms-prod from here.
account_id   = "111122223333"
region       = "eu-central-1"
state_bucket = "wms-terraform-state-111122223333"

vpc_cidr           = "10.10.0.0/16"
azs                = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
kubernetes_version = "1.32"

# Model servers (1-2 replicas of 250m-1 CPU) plus Argo CD, Prometheus, Grafana and MLflow.
node_group = {
  instance_types = ["m6i.large"]
  min_size       = 2
  max_size       = 4
  desired_size   = 2
}

api_allowed_cidrs = ["198.51.100.0/24"] # office VPN egress (documentation range: replace)
admin_role_arn    = "arn:aws:iam::111122223333:role/wms-platform-admin"

mlflow_db = {
  instance_class        = "db.t4g.medium"
  multi_az              = true # the only MLflow: its registry and run history matter beyond dev
  allocated_storage_gib = 20
}
