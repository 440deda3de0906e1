"""Shared fixtures: one local ClickHouse server per test run, on a free port, in a temp home."""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

import clickhouse_connect
import pytest

from unmogrowp.clickhouse import manager
from unmogrowp.generator.simulate import SimConfig
from unmogrowp.generator.writer import generate
from unmogrowp.net import free_port

REPO = Path(__file__).resolve().parents[1]


def private_clickhouse(home: Path):
    """A local ClickHouse server of one test's own under ``home`` (for tests that change or kill
    it); returns its state and a client. Stop it with ``manager.stop(home)``."""
    state, _ = manager.start(home, free_port())
    return state, clickhouse_connect.get_client(host=state.host, port=state.port)


@pytest.fixture(scope="session", autouse=True)
def _no_outer_dagster_home():
    """`make` exports the repository's DAGSTER_HOME: tests record their runs in their own homes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        yield


@pytest.fixture(scope="session")
def spark():
    """The shared local Spark session (starting one takes about 14 s), as the settings configure it."""
    from unmogrowp.config import load_settings
    from unmogrowp.spark import get_spark

    return get_spark(load_settings().spark)


@pytest.fixture(scope="session")
def clickhouse_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lakehouse")


@pytest.fixture(scope="session")
def clickhouse_server(clickhouse_home):
    """The local ClickHouse server, started through the manager as `unmogrowp` does."""
    state, started = manager.start(clickhouse_home, free_port())
    assert started
    yield state
    manager.stop(clickhouse_home)


@pytest.fixture
def ch(clickhouse_server):
    """A clickhouse-connect client with its own session."""
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port)
    yield client
    client.close()


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    """Two days of one app's installs and ad traffic, and 2 more days of app use (about 50k
    events), with every fault kind the edge produces."""
    out = tmp_path_factory.mktemp("generated")
    generate(str(out), 1, date(2026, 9, 1), date(2026, 9, 2), seed=11,
             config=SimConfig(installs_per_day=600, activity_days_after=2), progress=False, truncated_file_share=0.03)
    return out, json.loads((out / "answers" / "manifest.json").read_text())


class PipelineRun(NamedTuple):
    settings: object
    summary: object  # orchestration.pipeline.RunSummary
    landing: str
    window: tuple[datetime, datetime]
    op_config: dict


@pytest.fixture(scope="session")
def pipeline_run(generated, clickhouse_server, clickhouse_home, tmp_path_factory):
    """The whole pipeline (ingestion, dbt marts, multi-touch) run once through Dagster on
    ``generated``; returns a PipelineRun."""
    from orchestration.pipeline import run_pipeline
    from unmogrowp.config import load_settings

    out, _manifest = generated
    settings = load_settings({"UNMOGROWP_HOME": str(clickhouse_home),
                              "UNMOGROWP_CLICKHOUSE_PORT": str(clickhouse_server.port),
                              "UNMOGROWP_LAKE_URI": (tmp_path_factory.mktemp("lake")).as_uri(),
                              "UNMOGROWP_FRAUD_LABELS": str(out / "answers" / "fraud_labels.parquet")})
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 9, tzinfo=UTC)  # use to 09-04, late +3 d
    landing = str(out / "landing")
    # two install days observed for two more: LTV predicts D2 revenue from day 0
    ltv = {"config": {"early_days": 1, "horizon_days": 2}}
    op_config = {"ltv_model": ltv, "ltv_predictions": ltv}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DAGSTER_HOME", raising=False)
        summary = run_pipeline(settings, start, end, landing_uri=landing, op_config=op_config)
    return PipelineRun(settings, summary, landing, (start, end), op_config)
