"""Run an expectation suite on a DataFrame with Great Expectations and publish Data Docs.

One file-backed GX project under ``UNMOGROWP_HOME/gx`` holds the suites, validation results and
the Data Docs site (HTML); each run replaces its suite (suites are built in code, per partition).
"""

from __future__ import annotations

import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data_quality.offline_docs import make_docs_offline

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics (and no network)

import great_expectations as gx  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

_LOCK = threading.Lock()  # the file project is not safe for concurrent writers in one process


@dataclass(frozen=True)
class Outcome:
    success: bool
    evaluated: int
    failed: list[dict]  # one entry per failed expectation: type, column, unexpected count, examples
    docs_url: str


def docs_index(home: Path) -> Path:
    """The Data Docs site's front page under ``home``."""
    return Path(home) / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _asset(ctx, name: str):
    source = ctx.data_sources.add_or_update_pandas("lakehouse")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition("whole")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("whole")


def validate(home: Path, suite: gx.ExpectationSuite, frame: pd.DataFrame) -> Outcome:
    """Validate ``frame`` against ``suite``, store the result and rebuild the Data Docs site."""
    root = Path(home) / "gx"
    root.mkdir(parents=True, exist_ok=True)
    # concurrent runs are separate processes sharing the file store: lock across processes too
    with _LOCK, open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ctx = gx.get_context(mode="file", project_root_dir=str(root))
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm bars in run logs
        name = suite.name
        batch = _asset(ctx, name)
        suite = ctx.suites.add_or_update(suite)
        definition = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
            name=name, validation_definitions=[definition], result_format={"result_format": "SUMMARY"},
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")]))
        result = checkpoint.run(batch_parameters={"dataframe": frame})
        make_docs_offline(docs_index(home).parent)  # the action rebuilt pages that load CSS/JS from CDNs
        run = next(iter(result.run_results.values()))
        failed = [{"expectation": r.expectation_config.type,
                   **{k: v for k, v in r.expectation_config.kwargs.items() if k in ("column", "column_A", "column_B")},
                   "unexpected": r.result.get("unexpected_count", r.result.get("observed_value")),
                   "examples": [str(v)[:80] for v in (r.result.get("partial_unexpected_list") or [])[:5]]}
                  for r in run.results if not r.success]
        docs = ctx.get_docs_sites_urls()
        return Outcome(bool(result.success), run.statistics["evaluated_expectations"], failed,
                       docs[0]["site_url"] if docs else "")
