"""The command line refuses bad input with one line on stderr and exit code 2, before writing anything."""

import gzip
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration.cli import _hour, _validate_run, build_parser
from unmogrowp.config import load_settings, settings_environ

CLI = str(Path(sys.executable).with_name("unmogrowp"))


def _env(home: Path, **extra: str) -> dict[str, str]:
    """The process environment without this machine's deployment or AWS settings, home under ``home``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UNMOGROWP_", "LAKEHOUSE_", "CLICKHOUSE_", "AWS_", "MLFLOW_", "FEAST_"))}
    env.update(UNMOGROWP_HOME=str(home), AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(home / "none"), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"), **extra)
    return env


def _landing(root: Path, events: bool = True, day: str = "2026-09-01") -> Path:
    """A landing root with one tiny event batch (or only a cost report) on ``day``."""
    key = (f"events/app_id=app1/dt={day}/hr=00/b1.json.gz" if events
           else f"cost/media_source=net/dt={day}/20260902T000000Z.json.gz")
    (root / key).parent.mkdir(parents=True)
    (root / key).write_bytes(gzip.compress(b'{"event_id": "e1"}\n'))
    return root


@pytest.fixture
def landing(tmp_path) -> Path:
    return _landing(tmp_path / "landing")


RUN = ["run", "--start", "2026-09-01T00", "--end", "2026-09-01T02"]
ERASE = ["erase", "--requested-by", "dpo@example.com", "--id"]

# (arguments, extra environment, words the error line must contain); {landing} is a landing root with events,
# {history} one whose events start on 2017-03-01
STAGING = {"LAKEHOUSE_ENV": "staging", "CLICKHOUSE_HOST": "ch.invalid", "UNMOGROWP_LAKE_URI": "s3://lake/root"}
CASES = {
    "landing missing": (["run", "--landing", "{tmp}/nowhere", "--start", "2026-09-01", "--end", "2026-09-02"], {},
                        ["unmogrowp run: error:", "--landing", "nowhere", "does not exist", "events/"]),
    "landing is a file": (["run", "--landing", "{landing}/events/app_id=app1/dt=2026-09-01/hr=00/b1.json.gz",
                           "--start", "2026-09-01", "--end", "2026-09-02"], {}, ["is not a directory"]),
    "landing empty": (["run", "--landing", "{tmp}/empty", "--start", "2026-09-01", "--end", "2026-09-02"], {},
                      ["--landing", "empty", "holds no event batches under events/"]),
    "landing file:// with only cost": (["run", "--landing", "file://{tmp}/costonly", "--start", "2026-09-01",
                                        "--end", "2026-09-02"], {}, ["file://", "holds no event batches"]),
    "default landing missing": (RUN, {}, ["UNMOGROWP_LANDING_URI", "home/landing", "does not exist"]),
    "landing env var empty": (RUN, {"UNMOGROWP_LANDING_URI": "{tmp}/empty"},
                              ["UNMOGROWP_LANDING_URI", "empty", "holds no event batches"]),
    "s3 landing unreachable": (RUN, {"UNMOGROWP_LANDING_URI": "s3://no-such-bucket/landing"},
                               ["s3://no-such-bucket/landing", "cannot be listed", "NoCredentialsError"]),
    "start equals end": (["run", "--landing", "{landing}", "--start", "2026-09-01T05", "--end", "2026-09-01-05:00"],
                         {}, ["--start 2026-09-01T05:00 is not before --end 2026-09-01T05:00", "exclusive"]),
    "start after end": (["run", "--landing", "{landing}", "--start", "2026-09-02", "--end", "2026-09-01T03:00"], {},
                        ["--start 2026-09-02T00:00 is not before --end 2026-09-01T03:00"]),
    "bad hour": (["run", "--start", "yesterday", "--end", "2026-09-01T03"], {},
                 ["argument --start", "'yesterday'", "YYYY-MM-DDTHH:00", "YYYY-MM-DD-HH:00", "UTC"]),
    "bad hour digits": (["run", "--start", "2026-09-01", "--end", "2026-09-01T25"], {},
                        ["argument --end", "'2026-09-01T25'", "YYYY-MM-DDTHH"]),
    "not a whole hour": (["run", "--start", "2026-09-01T05:30", "--end", "2026-09-01T07"], {},
                         ["argument --start", "not a whole hour"]),
    "missing --start": (["run", "--end", "2026-09-01T07"], {}, ["required", "--start"]),
    "end in the future": (["run", "--landing", "{landing}", "--start", "2026-09-01", "--end", "2099-01-01"], {},
                          ["--end 2099-01-01T00:00 is after the current hour", "no partition yet"]),
    "before partitions": (["run", "--landing", "{landing}", "--start", "2026-08-31T23", "--end", "2026-09-01T02"],
                          {}, ["before the first partition 2026-09-01T00:00", "UNMOGROWP_PARTITIONS_START"]),
    "before moved partitions": (RUN, {"UNMOGROWP_PARTITIONS_START": "2026-09-02", "UNMOGROWP_LANDING_URI": "{landing}"},
                                ["first partition 2026-09-02T00:00", "UNMOGROWP_PARTITIONS_START"]),
    "bad partitions start": (RUN, {"UNMOGROWP_PARTITIONS_START": "Sept 1"},
                             ["UNMOGROWP_PARTITIONS_START='Sept 1'", "YYYY-MM-DD"]),
    "before the landing's first date": (["run", "--landing", "{history}", "--start", "2017-02-28T23", "--end",
                                         "2017-03-01T02"], {},
                                        ["before the first partition 2017-03-01T00:00", "landing zone's first dt="]),
    "history before a set start": (["run", "--landing", "{history}", "--start", "2017-03-01", "--end", "2017-03-02"],
                                   {"UNMOGROWP_PARTITIONS_START": "2026-09-01"},
                                   ["first partition 2026-09-01T00:00", "(UNMOGROWP_PARTITIONS_START=2026-09-01)",
                                    "set UNMOGROWP_PARTITIONS_START=2017-03-01", "landing zone's first dt="]),
    "history in staging": (["run", "--start", "2017-03-05", "--end", "2017-03-06"],
                           {**STAGING, "UNMOGROWP_LANDING_URI": "{history}"},
                           ["first partition 2026-09-01T00:00", "UNMOGROWP_PARTITIONS_START is unset",
                            "set UNMOGROWP_PARTITIONS_START=2017-03-01"]),
    "as-of not a time": (RUN + ["--as-of", "soon"], {}, ["argument --as-of", "'soon'", "'YYYY-MM-DD HH:MM' (UTC)"]),
    "as-of after end": (["run", "--landing", "{landing}", "--start", "2026-09-01T00", "--end", "2026-09-01T02",
                         "--as-of", "2026-09-01 02:30"], {},
                        ["--as-of 2026-09-01 02:30 is after --end 2026-09-01T02:00", "no data is complete"]),
    "as-of not after start": (["run", "--landing", "{landing}", "--start", "2026-09-01T05", "--end", "2026-09-01T07",
                               "--as-of", "2026-09-01T07:00+02:00"], {},
                              ["--as-of 2026-09-01 05:00 is not after --start 2026-09-01T05:00", "immature"]),
    "bad LAKEHOUSE_ENV": (RUN, {"LAKEHOUSE_ENV": "qa"}, ["LAKEHOUSE_ENV='qa'", "expected one of"]),
    "prod without settings": (RUN, {"LAKEHOUSE_ENV": "prod"}, ["CLICKHOUSE_HOST must be set"]),
    "port not a number": (["clickhouse", "start"], {"UNMOGROWP_CLICKHOUSE_PORT": "abc"},
                          ["unmogrowp clickhouse: error:", "environment", "'abc'"]),
    "port out of range": (["clickhouse", "start", "--port", "0"], {}, ["argument --port", "from 1 to 65535"]),
    "apps 0": (["generate", "--apps", "0"], {}, ["unmogrowp generate: error:", "argument --apps", "at least 1"]),
    "apps negative": (["generate", "--apps", "-2"], {}, ["argument --apps", "at least 1"]),
    "installs 0": (["generate", "--installs-per-day", "0"], {}, ["argument --installs-per-day", "at least 1"]),
    "activity negative": (["generate", "--activity-days-after", "-1"], {}, ["--activity-days-after", "at least 0"]),
    "generate reversed": (["generate", "--start", "2026-09-07", "--end", "2026-09-01"], {},
                          ["--start 2026-09-07 is after --end 2026-09-01", "inclusive"]),
    "generate bad date": (["generate", "--start", "2026/09/01"], {}, ["argument --start", "expected YYYY-MM-DD"]),
    "generate bad config": (["generate", "--apps", "1"], {"LAKEHOUSE_ENV": "qa"}, ["LAKEHOUSE_ENV='qa'"]),
    "erase empty id": (["erase", "--id", " ", "--requested-by", "dpo"], {}, ["argument --id", "not an identifier"]),
    # issue 15: --id ios deleted 8,686 bronze lines that merely held "ios"
    "erase ios": (ERASE + ["ios"], {}, ["argument --id: 'ios' is not an identifier", "shorter than 8"]),
    "erase zeroed idfa": (ERASE + ["00000000-0000-0000-0000-000000000000"], {}, ["one repeated character"]),
    "erase a good and a bad id": (["erase", "--id", "3f2a9c1e-7b44-4d2e-9a51-0c6de2b8f7a1", "--id", "android",
                                   "--requested-by", "dpo"], {}, ["'android' is not an identifier"]),
    "unknown command": (["frobnicate"], {}, ["unmogrowp: error:", "invalid choice"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_refused_in_one_line_before_anything_is_written(case, tmp_path, landing):
    args, extra, words = CASES[case]
    (tmp_path / "empty").mkdir()
    _landing(tmp_path / "costonly", events=False)
    history = _landing(tmp_path / "history", day="2017-03-01")
    home = tmp_path / "home"

    def fill(s: str) -> str:
        return s.format(tmp=tmp_path, landing=landing, history=history)

    env = _env(home, **{k: fill(v) for k, v in extra.items()})
    p = subprocess.run([CLI, *map(fill, args)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30,
                       check=False)
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), p.stderr
    assert lines[0].startswith("unmogrowp"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert not home.exists()


def test_erase_refuses_a_network_of_the_users_config_before_anything_is_written(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "network_priority.csv").write_text("media_source,priority\nmegaboost_ads,5\n")
    p = subprocess.run([CLI, *ERASE, "megaboost_ads"], env=_env(home), cwd=tmp_path, capture_output=True, text=True,
                       timeout=60, check=False)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert p.stderr.splitlines() == [("unmogrowp erase: error: argument --id: 'megaboost_ads' is not an identifier: "
                                      "a value of the event data (a platform, event type, network, currency, ...)")]
    assert sorted(p.name for p in home.iterdir()) == ["config"]


@pytest.mark.parametrize("command", ["", "clickhouse", "generate", "run", "erase"])
def test_every_option_says_what_it_takes_and_its_default(command, tmp_path):
    p = subprocess.run([CLI, *command.split(), "--help"], env=_env(tmp_path / "home"), capture_output=True, text=True,
                       timeout=30, check=False)
    assert p.returncode == 0 and p.stderr == ""
    options = p.stdout.split("options:\n", 1)[1]
    entries: list[str] = []
    for line in options.splitlines():
        if re.match(r"^  -", line):
            entries.append(line.strip())
        elif line.startswith("   ") and entries:
            entries[-1] += " " + line.strip()
        elif not line.strip():
            break
    assert entries and entries[0].startswith("-h, --help")
    for entry in entries[1:]:
        assert "default" in entry or "(required)" in entry, entry


def test_a_good_run_passes_validation_without_loading_dagster(tmp_path, landing):
    args = build_parser().parse_args(["run", "--landing", str(landing), "--start", "2026-09-01", "--end",
                                      "2026-09-01-05:00"])
    _validate_run(args, load_settings({"UNMOGROWP_HOME": str(tmp_path / "home")}))
    assert args.end == datetime(2026, 9, 1, 5, tzinfo=UTC)  # no silent change
    code = ("import sys; from orchestration.cli import build_parser, _validate_run; from unmogrowp.config import "
            f"load_settings; _validate_run(build_parser().parse_args(['run', '--landing', {str(landing)!r}, "
            "'--start', '2026-09-01', '--end', '2026-09-02']), load_settings()); "
            "assert not {'dagster', 'orchestration.pipeline'} & set(sys.modules), 'validation imported dagster'")
    subprocess.run([sys.executable, "-c", code], env=_env(tmp_path / "home"), check=True, timeout=30)
    assert not (tmp_path / "home").exists()


def test_history_before_the_default_start_runs_from_the_landing_zones_first_date(tmp_path):
    """Unset locally, the first partition is the landing zone's first dt= (events or cost): 2017 runs."""
    history = _landing(tmp_path / "history", day="2017-03-01")
    _landing(history, events=False, day="2017-02-28")  # cost for the day before the first event batch
    settings = load_settings({"UNMOGROWP_HOME": str(tmp_path / "home")})  # its own landing does not exist
    assert settings.partitions_start == "2026-09-01"
    args = build_parser().parse_args(["run", "--landing", str(history), "--start", "2017-02-28", "--end",
                                      "2017-03-02", "--as-of", "2017-03-01 12:30"])
    used = _validate_run(args, settings)
    assert (used.partitions_start, used.partitions_start_source) == ("2017-02-28", "landing")
    assert used.landing_uri == str(history)
    assert args.as_of == datetime(2017, 3, 1, 12, 30, tzinfo=UTC)
    # the code server started for the run gets the date, not a new look at the landing zone
    assert load_settings(settings_environ(used)).partitions_start == "2017-02-28"
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("text", ["2026-09-01T05", "2026-09-01T05:00", "2026-09-01-05:00", "2026-09-01 05:00",
                                  "2026-09-01T07:00+02:00"])
def test_hour_formats(text):
    assert _hour(text) == datetime(2026, 9, 1, 5, tzinfo=UTC)


def test_run_gives_the_as_of_to_the_jobs_that_judge_cohort_maturity(tmp_path, landing, monkeypatch):
    """`unmogrowp run --as-of`: the dbt assets judging maturity get it as run config their jobs accept."""
    from contextlib import contextmanager

    import dagster as dg

    from assets.dbt import CohortConfig
    from orchestration import pipeline
    from orchestration.cli import main
    from orchestration.definitions import build_definitions
    from orchestration.jobs import DAILY_MARTS_JOB, LTV_FEATURES_JOB, PIPELINE_JOBS
    from orchestration.launcher import RunResult

    defs = build_definitions(load_settings({"UNMOGROWP_HOME": str(tmp_path / "defs")}))
    launched: dict[str, dict] = {}

    class Launcher:  # records the launches; each run config is validated against the real job
        def node_names(self, job_name):
            return {node.name for node in defs.resolve_job_def(job_name).nodes}

        def launch(self, job_name, run_config=None, tags=None):
            dg.validate_run_config(defs.resolve_job_def(job_name), run_config or {})
            launched[job_name] = run_config or {}
            return job_name

        def wait(self, run_id, on_step=None):
            return RunResult(run_id, run_id, dg.DagsterRunStatus.SUCCESS, 0.0)

    monkeypatch.setattr(pipeline, "launcher_for", contextmanager(lambda settings: iter([Launcher()])))
    monkeypatch.setattr(pipeline, "format_summary", lambda *args: "summary")
    for name in [k for k in os.environ if k.startswith(("UNMOGROWP_", "LAKEHOUSE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("UNMOGROWP_HOME", str(tmp_path / "home"))
    assert main(["run", "--landing", str(landing), "--start", "2026-09-01", "--end", "2026-09-01T03",
                 "--as-of", "2026-09-01 02:30"]) == 0
    assert set(launched) == set(PIPELINE_JOBS)
    given = {job: {op: c["config"]["as_of"] for op, c in rc.get("ops", {}).items() if "as_of" in c.get("config", {})}
             for job, rc in launched.items()}
    assert given.pop(DAILY_MARTS_JOB) == {"dbt_daily": "2026-09-01 02:30:00+00:00"}
    assert given.pop(LTV_FEATURES_JOB) == {"dbt_ltv_features": "2026-09-01 02:30:00+00:00"}
    assert not any(given.values())
    assert CohortConfig(as_of="2026-09-01 02:30:00+00:00").as_of == "2026-09-01 02:30:00"  # the dbt var
