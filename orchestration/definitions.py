"""The composition root: every asset, check, job, schedule, sensor and resource, in one place."""


import dagster as dg

from assets import warehouse
from orchestration.resources import build_resources
from unmogrowp.config import Settings, load_settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    return dg.Definitions(
        assets=dg.load_assets_from_modules([warehouse]),
        resources=build_resources(settings),
    )


defs = build_definitions()
