"""What an asset reports when its inputs are missing: a materialization that did no work and says
why. Missing labels, too few matured cohorts or no traffic are states of the data, not failures:
the run succeeds, and the UI (metadata ``skipped``) and the run summary show the reason."""

import dagster as dg

SKIPPED = "skipped"


def skipped(reason: str, **metadata) -> dg.MaterializeResult:
    """A materialization that did no work because ``reason`` (one sentence, shown as is)."""
    return dg.MaterializeResult(metadata={SKIPPED: reason, **metadata})


def skipped_check(reason: str, **metadata) -> dg.AssetCheckResult:
    """A check with nothing to judge (no rows, no model): passes, saying why."""
    return dg.AssetCheckResult(passed=True, metadata={SKIPPED: reason, **metadata})
