import mlflow
import pytest

from ml import tracking


@pytest.fixture
def mlflow_home(tmp_path):
    """A fresh MLflow store (sqlite + artifact directory) for one test."""
    tracking.configure(tmp_path)
    yield tmp_path
    mlflow.set_tracking_uri(None)

