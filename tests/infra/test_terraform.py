"""The Terraform of infra/terraform, checked without a terraform binary (none can be installed here):
every file parses (python-hcl2), every module has its files and a README, providers are pinned,
each module call passes exactly the variables the module declares and reads only outputs it has
(what ``terraform validate`` would catch first), checkov finds no failed check and every skip says
why, and the values that mirror the code (retention, the Dagster chart, the environment variables
the outputs become) agree with it."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path

import hcl2
import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "infra" / "terraform"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ENVS = sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
_REF = re.compile(r"\bmodule\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.([A-Za-z0-9_-]+)")


def _plain(value):
    """python-hcl2 8 keeps the quotes of strings and block labels and marks blocks: drop both."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def parsed(path: Path) -> dict:
    with path.open() as f:
        return _plain(hcl2.load(f))


def blocks(directory: Path, kind: str) -> dict[str, dict]:
    """The labelled blocks of one kind (variable, output, module) of a directory's .tf files."""
    out = {}
    for tf in sorted(directory.glob("*.tf")):
        for block in parsed(tf).get(kind, []):
            out.update(block)
    return out


def test_there_are_modules_and_both_environments():
    assert {p.name for p in ENVS} == {"staging", "prod"}
    assert {p.name for p in MODULES} == {"network", "lake", "postgres", "feast_online", "clickhouse", "eks", "irsa",
                                         "dagster", "spark", "mlflow", "platform"}


@pytest.mark.parametrize("tf", sorted(TERRAFORM.rglob("*.tf")), ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(tf):
    assert parsed(tf), f"{tf} is empty"


@pytest.mark.parametrize("directory", MODULES + ENVS, ids=lambda p: p.name)
def test_each_directory_has_its_files_and_pins_its_providers(directory):
    missing = [f for f in MODULE_FILES if not (directory / f).is_file()]
    assert not missing, f"{directory.name} lacks {missing}"
    (terraform,) = parsed(directory / "versions.tf")["terraform"]
    assert re.fullmatch(r">= ?1\.\d+(\.\d+)?, ?< ?2\.0(\.0)?", terraform["required_version"])
    providers = {name: spec for block in terraform["required_providers"] for name, spec in block.items()}
    for name, spec in providers.items():
        assert "/" in spec.get("source", ""), f"{directory.name}: provider {name} has no source"
        assert re.fullmatch(r"(~> ?|= ?)\d+\.\d+(\.\d+)?", spec.get("version", "")), \
            f"{directory.name}: provider {name} is not pinned: {spec.get('version')!r}"


@pytest.mark.parametrize("directory", MODULES + ENVS, ids=lambda p: p.name)
def test_variables_and_outputs_are_typed_and_described(directory):
    for name, var in blocks(directory, "variable").items():
        assert var.get("type") and var.get("description"), f"{directory.name}: variable {name}"
    for name, out in blocks(directory, "output").items():
        assert out.get("description"), f"{directory.name}: output {name}"
    for name, var in blocks(directory, "variable").items():
        secretish = re.search(r"(password|token|salt)$", name)
        assert not (secretish and "default" in var), f"{directory.name}: {name} looks like a secret with a default"


def _calls(directory: Path) -> dict[str, dict]:
    return {name: call for name, call in blocks(directory, "module").items()
            if str(call.get("source", "")).startswith(".")}


@pytest.mark.parametrize("directory", MODULES + ENVS, ids=lambda p: p.name)
def test_module_calls_match_the_modules_they_call(directory):
    """Each local module call: the source exists, every argument is a declared variable, every
    variable without a default is given, and every module.X.Y read is an output of X."""
    calls = _calls(directory)
    meta = {"source", "count", "for_each", "providers", "depends_on", "version"}
    for name, call in calls.items():
        target = (directory / call["source"]).resolve()
        assert target.is_dir(), f"{directory.name}: module {name} -> missing {call['source']}"
        declared = blocks(target, "variable")
        given = set(call) - meta
        assert not given - set(declared), f"{directory.name}: module {name} gets unknown {given - set(declared)}"
        required = {v for v, spec in declared.items() if "default" not in spec}
        assert not required - given, f"{directory.name}: module {name} lacks {required - given}"
    text = "\n".join(tf.read_text() for tf in directory.glob("*.tf"))
    for module, output in set(_REF.findall(text)):
        assert module in calls, f"{directory.name}: reads module.{module}, which it does not call"
        outputs = blocks((directory / calls[module]["source"]).resolve(), "output")
        assert output in outputs, f"{directory.name}: module.{module}.{output} is not an output of {module}"


@cache
def checkov_report() -> dict:
    assert CHECKOV.exists(), "checkov's environment is missing: run `make .venv-checkov/.synced`"
    proc = subprocess.run([str(CHECKOV), "-d", str(TERRAFORM), "--framework", "terraform", "--compact", "--quiet",
                           "--skip-download", "--download-external-modules", "false", "-o", "json"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    return report if isinstance(report, dict) else {"summary": report[0]["summary"], "results": report[0]["results"]}


def test_checkov_finds_no_failed_check():
    """Offline checkov has no severities, so the bar is every check: none failed, nothing unparsed."""
    report = checkov_report()
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"].get("failed_checks", [])]
    assert not failed, f"{len(failed)} failed: {failed[:20]}"
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 200, summary  # the modules were actually scanned


def test_every_checkov_skip_is_justified_inline():
    skipped = checkov_report()["results"].get("skipped_checks", [])
    unjustified = [(c["check_id"], c["resource"]) for c in skipped
                   if len((c.get("check_result") or {}).get("suppress_comment") or "") < 15]
    assert not unjustified, unjustified
    for tf in TERRAFORM.rglob("*.tf"):
        for line in tf.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_[A-Z0-9_]+:\S", line), f"{tf}: {line.strip()}"


def test_landing_lifecycle_matches_the_retention_the_code_enforces():
    from unmogrowp.privacy import RAW_DAYS, SILVER_DAYS

    assert blocks(TERRAFORM / "modules" / "lake", "variable")["landing_expire_days"]["default"] == RAW_DAYS
    platform = blocks(TERRAFORM / "modules" / "platform", "variable")
    assert (platform["retention_raw_days"]["default"], platform["retention_silver_days"]["default"]) == \
        (RAW_DAYS, SILVER_DAYS)
    assert blocks(TERRAFORM / "modules" / "platform", "module")["lake"]["landing_expire_days"] == \
        "${var.retention_raw_days}"


def test_dagster_chart_matches_the_dagster_the_project_pins():
    import dagster

    chart = blocks(TERRAFORM / "modules" / "dagster", "variable")["chart_version"]["default"]
    assert chart.split(".")[:2] == dagster.__version__.split(".")[:2]


def test_mlflow_server_image_matches_the_mlflow_client():
    import mlflow

    image = blocks(TERRAFORM / "modules" / "mlflow", "variable")["image"]["default"]
    tag = image.rsplit(":", 1)[1].lstrip("v")
    assert tag.split(".")[:2] == mlflow.__version__.split(".")[:2], image


def test_the_platform_environment_names_only_variables_the_code_reads():
    """The environment the outputs become (the ConfigMap and Secret of every Dagster pod, the README's
    table) names only variables Settings reads, and every required one."""
    from unmogrowp.config import Settings, _aliases

    known = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        known |= set(getattr(alias, "choices", [alias])) - {None}
    for nested in ("clickhouse", "spark", "s3"):
        known |= set(_aliases(Settings.model_fields[nested].annotation))
    platform = blocks(TERRAFORM / "modules" / "platform", "locals")
    names, secrets = set(platform["platform_environment"]), set(platform["platform_secrets"])
    assert names <= known, f"unknown variables {names - known}"
    assert secrets <= known, f"unknown variables {secrets - known}"
    assert {"LAKEHOUSE_ENV", "UNMOGROWP_LAKE_URI", "UNMOGROWP_LANDING_URI", "CLICKHOUSE_HOST", "MLFLOW_TRACKING_URI",
            "SPARK_REMOTE", "UNMOGROWP_TENANTS", "UNMOGROWP_FRAUD_LABELS"} <= names
    assert secrets == {"CLICKHOUSE_PASSWORD", "FEAST_REDIS_CONNECTION", "FEAST_REGISTRY_PATH",
                       "UNMOGROWP_DEVICE_KEY_SALT", "UNMOGROWP_AUDIT_SALT"}
    assert not names & secrets
    for env in ENVS:  # each environment passes them on as outputs
        outputs = blocks(env, "output")
        assert outputs["platform_environment"]["value"] == "${module.platform.platform_environment}"
        assert outputs["platform_secrets"]["value"] == "${module.platform.platform_secrets}"


def _json_keys(module: str) -> set[str]:
    """The keys of the JSON a module writes into its Secrets Manager secret (``jsonencode({...})``)."""
    text = (TERRAFORM / "modules" / module / "main.tf").read_text()
    body = text[text.index("secret_string = jsonencode({"):]
    body = body[:body.index("})")]
    return set(re.findall(r"^\s*([a-z_]+)\s*=", body, re.M))


def test_external_secrets_read_the_keys_the_secrets_hold():
    """Every ExternalSecret entry on a JSON secret names a property that secret has (without one,
    the variable would get the whole JSON document); plain secrets are read whole."""
    json_secrets = {"var.clickhouse_password_secret_arn": _json_keys("clickhouse"),
                    "var.feast_online_secret_arn": _json_keys("feast_online"),
                    # RDS-managed master secrets hold username and password
                    "local.feast_registry_secret_arn": {"username", "password"},
                    "var.postgres_master_secret_arn": {"username", "password"},
                    "var.postgres_secret_arn": {"username", "password"}}
    refs = []
    for tf in (TERRAFORM / "modules").rglob("*.tf"):
        refs += re.findall(r'remoteRef = \{ key = ([^,}]+?)(?:, property = "([a-z_]+)")? \}', tf.read_text())
    assert len(refs) >= 9
    for key, prop in refs:
        key = key.strip()
        if key in json_secrets:
            assert prop in json_secrets[key], f"{key}: property {prop!r} not in {sorted(json_secrets[key])}"
        else:
            assert key.startswith("aws_secretsmanager_secret.generated"), key
            assert not prop, key
    assert "password" in _json_keys("clickhouse") and "connection_string" in _json_keys("feast_online")
