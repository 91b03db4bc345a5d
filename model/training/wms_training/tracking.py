"""MLflow logging.  With MLFLOW_TRACKING_URI set, everything goes to that server; without it,
tracking is skipped with one log line (set WMS_MLFLOW_LOCAL=1 to log to <run_dir>/mlruns)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

EXPERIMENT = "wms"
REGISTERED_MODEL = "wms"


class Tracker:
    def __init__(self, run_dir: Path, enabled: bool, uri: str | None = None) -> None:
        self.run_dir, self.enabled, self.uri, self.run_id = Path(run_dir), enabled, uri, ""
        if not enabled:
            return
        import mlflow

        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT))
        id_file = self.run_dir / "mlflow_run_id"
        prev = id_file.read_text().strip() if id_file.is_file() else None
        try:
            run = mlflow.start_run(run_id=prev) if prev else mlflow.start_run(run_name=self.run_dir.name)
        except Exception:  # the stored run is on another server: start a new one
            run = mlflow.start_run(run_name=self.run_dir.name)
        self.run_id = run.info.run_id
        id_file.write_text(self.run_id + "\n")
        log.info("MLflow run %s at %s", self.run_id, uri)

    @classmethod
    def from_env(cls, run_dir: str | Path, params: dict | None = None) -> "Tracker":
        run_dir = Path(run_dir)
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri and os.environ.get("WMS_MLFLOW_LOCAL") == "1":
            uri = (run_dir / "mlruns").resolve().as_uri()
        if not uri:
            log.info("MLFLOW_TRACKING_URI not set: MLflow tracking skipped")
            return cls(run_dir, False)
        return cls(run_dir, True, uri)

    def log_params(self, params: dict) -> None:
        if not self.enabled:
            return
        import mlflow

        from .config import flat

        existing = mlflow.get_run(self.run_id).data.params
        fresh = {k: str(v)[:500] for k, v in flat(params).items() if k not in existing}
        if fresh:
            mlflow.log_params(fresh)

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        if self.enabled:
            import mlflow

            mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self.enabled and Path(path).exists():
            import mlflow

            mlflow.log_artifact(str(path), artifact_path)

    def register_onnx(self, onnx_path: str | Path, card: dict) -> str | None:
        """Log the ONNX file as a model and register a new version of it; returns the version."""
        if not self.enabled:
            return None
        import mlflow
        import onnx

        info = mlflow.onnx.log_model(onnx.load(str(onnx_path)), name="model",
                                     registered_model_name=REGISTERED_MODEL)
        mlflow.log_dict(card, "model/model-card.json")
        version = getattr(info, "registered_model_version", None)
        if version is not None:
            # `gen registry-sync` finds a release's model version by this tag
            mlflow.MlflowClient().set_model_version_tag(REGISTERED_MODEL, str(version), "wms.version",
                                                        str(card["version"]))
        log.info("registered %s version %s", REGISTERED_MODEL, version)
        return str(version) if version is not None else None

    def pause(self) -> None:
        if self.enabled:
            import mlflow

            mlflow.end_run()

    def finish(self, status: str = "FINISHED") -> None:
        if self.enabled:
            import mlflow

            mlflow.end_run(status=status)


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj, indent=2) + "\n")
    return path
