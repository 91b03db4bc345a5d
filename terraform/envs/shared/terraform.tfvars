# Account-wide resources, shared by every environment. Apply this configuration first.
account_id        = "111122223333"
region            = "eu-central-1"
github_repository = "example-org/wms-gitops"

model_store_bucket      = "wms-models"
dvc_remote_bucket       = "wms-dvc"
mlflow_artifacts_bucket = "wms-mlflow-artifacts"
access_logs_bucket      = "wms-s3-access-logs-111122223333"
ecr_repository          = "wms-server"
