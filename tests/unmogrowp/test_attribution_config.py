"""The deployment's own attribution config beside the defaults, without editing tracked files."""

import pytest

from unmogrowp import attribution_config as ac


def _write(home, name, text):
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / f"{name}.csv").write_text(text)


def test_user_rows_come_first_and_extend_the_defaults(tmp_path):
    _write(tmp_path, "network_priority", "media_source,priority\nchan_245,5\nadnet_alpha,99\n")
    rows = ac.rows(tmp_path, "network_priority")
    assert rows[:2] == [{"media_source": "chan_245", "priority": "5"},
                        {"media_source": "adnet_alpha", "priority": "99"}]
    assert "chan_245" in ac.known_networks(tmp_path) and "socialx" in ac.known_networks(tmp_path)
    assert ac.known_networks(tmp_path / "nowhere") == sorted(r["media_source"] for r in ac.rows(tmp_path / "x",
                                                                                               "network_priority"))


@pytest.fixture
def user_tables(ch, tmp_path_factory):
    """The shared server's config_user tables, emptied again afterwards (other tests' views read them)."""
    yield ch
    ac.load_user_config(ch, tmp_path_factory.mktemp("no_config"))


def test_a_misspelt_header_is_refused_before_anything_is_loaded(tmp_path, user_tables):
    ch = user_tables
    _write(tmp_path, "network_priority", "media_source,priority\nchan_245,5\n")
    ac.load_user_config(ch, tmp_path)
    _write(tmp_path, "fx_rates", "currency,rate_date,units_per_usd\nCHF,2017-01-01,0.99\n")
    _write(tmp_path, "network_priority", "network,priority\nchan_480,5\n")
    with pytest.raises(ValueError, match=r"network_priority.csv: columns \['network', 'priority'\] differ"):
        ac.load_user_config(ch, tmp_path)
    # nothing was written: the earlier load stands, the new fx rate is not in
    assert ch.query("SELECT media_source FROM config_user.network_priority").result_rows == [("chan_245",)]
    assert ch.command("SELECT count() FROM config_user.fx_rates") == 0


def test_load_replaces_the_user_tables_with_typed_rows(tmp_path, user_tables):
    ch = user_tables
    _write(tmp_path, "fx_rates", "currency,rate_date,units_per_usd\nCHF,2017-01-01,0.99\n")
    _write(tmp_path, "attribution_window_overrides",
           "app_id,media_source,campaign_id,adset_id,ad_id,touch_type,match_class,window_hours,note\n"
           ",chan_245,,,,click,deterministic,48,contract\n")
    counts = ac.load_user_config(ch, tmp_path)
    assert counts == {"network_priority": 0, "attribution_window_overrides": 1, "campaign_targeting": 0,
                      "fx_rates": 1, "anonymous_ip_ranges": 0}
    assert ch.query("SELECT currency, toString(rate_date), units_per_usd FROM config_user.fx_rates").result_rows == [
        ("CHF", "2017-01-01", 0.99)]
    # empty fields are NULL where the seed's column is Nullable (an override for "any campaign")
    assert ch.query("SELECT app_id, media_source, campaign_id, window_hours "
                    "FROM config_user.attribution_window_overrides"
                    ).result_rows == [(None, "chan_245", None, 48)]
    (tmp_path / "config" / "fx_rates.csv").unlink()
    assert ac.load_user_config(ch, tmp_path)["fx_rates"] == 0
    assert ch.command("SELECT count() FROM config_user.fx_rates") == 0


def test_a_blank_required_value_or_a_bad_value_changes_nothing(tmp_path, user_tables):
    """A blank priority would load as 0 (the top priority): refused with its line. A value ClickHouse
    cannot parse fails the load before any table is swapped."""
    ch = user_tables
    _write(tmp_path, "network_priority", "media_source,priority\nchan_245,5\n")
    ac.load_user_config(ch, tmp_path)
    _write(tmp_path, "network_priority", "media_source,priority\nchan_480,7\nchan_999,\n")
    with pytest.raises(ValueError, match=r"network_priority.csv line 3: priority must not be blank"):
        ac.load_user_config(ch, tmp_path)
    _write(tmp_path, "fx_rates", "currency,rate_date,units_per_usd\nCHF,2017-01-01,0.99\n")
    _write(tmp_path, "network_priority", "media_source,priority\nchan_480,high\n")
    with pytest.raises(Exception, match="high"):
        ac.load_user_config(ch, tmp_path)
    assert ch.query("SELECT media_source, priority FROM config_user.network_priority").result_rows == [("chan_245", 5)]
    assert ch.command("SELECT count() FROM config_user.fx_rates") == 0
