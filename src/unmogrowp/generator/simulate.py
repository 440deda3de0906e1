"""A deterministic, vectorised simulation of one app's traffic: touches, installs, activity, fraud.

Everything is numpy columns (no per-event Python objects) so a week for three apps (about 7M
events) takes seconds. Strings (ids, timestamps, JSON) are produced later by the writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

MS_HOUR = 3_600_000
MS_DAY = 24 * MS_HOUR

EVENT_TYPES = ("impression", "click", "install", "session_start", "app_open", "in_app_event",
               "purchase", "ad_revenue", "uninstall")
ET = {name: i for i, name in enumerate(EVENT_TYPES)}
PLATFORMS = ("ios", "android")
COUNTRIES = ("US", "GB", "DE", "FR", "BR", "IN", "JP", "KR", "CA", "MX")
COUNTRY_WEIGHTS = np.array([30, 8, 8, 6, 10, 14, 7, 5, 6, 6], float)
OS_VERSIONS = ("17.5", "18.1", "18.2", "13", "14", "15")  # ios: 0-2, android: 3-5
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 Chrome/126.0 Mobile",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/127.0 Mobile",
    "Mozilla/5.0 (Linux; Android 15; 23116PN5BC) AppleWebKit/537.36 Chrome/128.0 Mobile",
)
APP_VERSIONS = ("3.4.0", "3.5.0", "3.5.1")
SDK_VERSIONS = ("6.14.2", "6.15.0")
IN_APP_EVENT_NAMES = ("tutorial_complete", "level_up", "add_to_cart", "registration", "share")
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
CURRENCY_WEIGHTS = np.array([70, 15, 10, 5], float)
CURRENCY_PER_USD = np.array([1.0, 0.92, 0.79, 150.0])
AD_NETWORKS = ("applovin", "ironsource", "admob")

# name, traffic weight, CPI in USD, fraud role
NETWORKS = (
    ("adnet_alpha", 0.30, 2.40, None),
    ("buzzads", 0.20, 1.90, None),
    ("socialx", 0.25, 3.10, None),
    ("clickmob", 0.15, 1.20, "flood_and_farm"),
    ("hypergrowth", 0.10, 0.90, "injection_bots_spoofing"),
)
CAMPAIGNS_PER_NETWORK = 3
ADSETS_PER_CAMPAIGN = 2
ADS_PER_ADSET = 2
SITES_PER_NETWORK = 12
CLICKMOB, HYPERGROWTH = 3, 4  # indexes into NETWORKS of the two fraudulent networks
FLOOD_SITES = (10, 11)  # clickmob's sub-publishers that flood clicks
FRAUD_TYPES = ("click_injection", "click_flood", "device_farm", "bot_behaviour", "sdk_spoofing")
DEVICE_ABSENT, DEVICE_ZEROED = -1, -2


@dataclass
class SimConfig:
    installs_per_day: int = 4000
    organic_share: float = 0.3
    clicks_per_paid_install: float = 18.0
    impressions_per_click: float = 1.2
    android_share: float = 0.6
    payer_share: float = 0.04
    reinstall_share: float = 0.03
    reengaged_users_per_day: int = 60
    late_share: float = 0.02  # events whose upload is delayed by up to 3 days
    duplicate_share: float = 0.005
    activity_days_after: int = 0  # users keep playing this many days after the last install day
    with_activity: bool = True  # False: ad traffic and installs only (attribution benchmarks)


COLUMNS = {  # name -> (dtype, absent value)
    "event_type": (np.int8, -1), "event_ts": (np.int64, -1), "received_ts": (np.int64, -1),
    "platform": (np.int8, -1), "device": (np.int64, DEVICE_ABSENT), "ip": (np.uint32, 0),
    "ua": (np.int8, -1), "country": (np.int8, -1), "os_version": (np.int8, -1),
    "app_version": (np.int8, -1), "sdk_version": (np.int8, -1), "user": (np.int64, -1),
    "touch": (np.int64, -1), "network": (np.int8, -1), "campaign": (np.int8, -1),
    "adset": (np.int8, -1), "ad": (np.int8, -1), "site": (np.int8, -1), "has_click_id": (np.int8, -1),
    "is_retargeting": (np.int8, -1), "install_begin_ts": (np.int64, -1),
    "referrer_click_ts": (np.int64, -1), "referrer_touch": (np.int64, -1),
    "event_name": (np.int8, -1), "revenue": (np.float64, np.nan), "currency": (np.int8, -1),
    "ad_network": (np.int8, -1), "epoch_ms_ts": (np.int8, 0), "event_hi": (np.uint64, 0),
    "event_lo": (np.uint64, 0),
    # ground truth, never written to landing
    "fraud": (np.int8, -1),  # index into FRAUD_TYPES
    "truth_kind": (np.int8, -1),  # installs: index into TRUTH_KINDS
    "truth_touch": (np.int64, -1),  # installs: the touch that should win last-touch attribution
}
# what an install is by design: organic, won by its click, a reinstall, or a retargeted reinstall
TRUTH_KINDS = ("organic", "paid", "reinstall", "reattribution")
FRAUD = {name: i for i, name in enumerate(FRAUD_TYPES)}


class AppSimulation:
    """The traffic of one app over a date range."""

    def __init__(self, app_index: int, start: date, end: date, seed: int, config: SimConfig):
        self.app_index = app_index
        self.start, self.end = start, end
        self.cfg = config
        self.rng = np.random.default_rng([seed, app_index])
        self.t0 = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
        self.t_end = self.t0 + ((end - start).days + 1) * MS_DAY  # installs and ad traffic end here
        self.t_activity_end = self.t_end + config.activity_days_after * MS_DAY  # app usage ends here
        self._next_device = 0
        self._next_touch = 0
        self.parts: list[dict[str, np.ndarray]] = []
        self.cost_installs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # day, net, campaign

    # -- helpers ---------------------------------------------------------------------------
    def _devices(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_device, self._next_device + n, dtype=np.int64)
        self._next_device += n
        return ids

    def _touches(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_touch, self._next_touch + n, dtype=np.int64)
        self._next_touch += n
        return ids

    def _emit(self, n: int, **cols) -> None:
        part = {}
        for name, (dtype, absent) in COLUMNS.items():
            v = cols.get(name)
            if v is None:
                part[name] = np.full(n, absent, dtype=dtype)
            else:
                part[name] = np.broadcast_to(np.asarray(v), (n,)).astype(dtype, copy=True)
        self.parts.append(part)

    def _device_profile(self, n: int, platform: np.ndarray | None = None):
        rng = self.rng
        if platform is None:
            platform = (rng.random(n) < self.cfg.android_share).astype(np.int8)
        device = self._devices(n)
        u = rng.random(n)
        # Android: GAID present unless limited ad tracking; iOS: IDFA only with ATT consent.
        device = np.where((platform == 1) & (u < 0.05), DEVICE_ZEROED, device)
        device = np.where((platform == 0) & (u < 0.5), DEVICE_ABSENT, device)
        device = np.where((platform == 0) & (u >= 0.5) & (u < 0.75), DEVICE_ZEROED, device)
        os_v = np.where(platform == 1, 3 + rng.integers(0, 3, n), rng.integers(0, 3, n)).astype(np.int8)
        prof = {
            "platform": platform, "device": device, "os_version": os_v, "ua": os_v,
            "ip": _residential_ips(rng, n),
            "country": rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum()),
            "app_version": rng.integers(0, len(APP_VERSIONS), n),
            "sdk_version": rng.integers(0, len(SDK_VERSIONS), n),
            "epoch_ms_ts": (rng.random(n) < 0.05).astype(np.int8),  # an old SDK sending epoch ms
        }
        prof["device_key"] = self._devices(n)  # internal identity, present even without an ad id
        return prof

    def _placement(self, n: int, network: np.ndarray | None = None):
        rng = self.rng
        weights = np.array([w for _, w, _, _ in NETWORKS])
        if network is None:
            network = rng.choice(len(NETWORKS), n, p=weights / weights.sum())
        return {
            "network": network, "campaign": rng.integers(0, CAMPAIGNS_PER_NETWORK, n),
            "adset": rng.integers(0, ADSETS_PER_CAMPAIGN, n), "ad": rng.integers(0, ADS_PER_ADSET, n),
            "site": rng.integers(0, SITES_PER_NETWORK - len(FLOOD_SITES), n),
        }

    # -- the simulation --------------------------------------------------------------------
    def run(self) -> None:
        days = (self.end - self.start).days + 1
        for d in range(days):
            self._day(d)
        self._reengagement(days)

    def _day(self, d: int) -> None:
        cfg, rng = self.cfg, self.rng
        day0 = self.t0 + d * MS_DAY
        n_inst = rng.poisson(cfg.installs_per_day)
        n_paid = int(n_inst * (1 - cfg.organic_share))
        prof = self._device_profile(n_inst)
        # a gentle diurnal curve: more installs in the evening (UTC-ish)
        install_ts = day0 + (rng.beta(2.2, 1.6, n_inst) * MS_DAY).astype(np.int64)
        paid = np.zeros(n_inst, bool)
        paid[:n_paid] = True
        place = self._placement(n_inst)

        # the winning click: log-normal CTIT, median about an hour
        ctit_ms = np.clip(rng.lognormal(np.log(3600), 1.3, n_inst), 5, 6.5 * 86400) * 1000
        click_ts = install_ts - ctit_ms.astype(np.int64)
        click_touch = self._touches(n_inst)
        android = prof["platform"] == 1
        referrer = paid & android & (rng.random(n_inst) < 0.7)
        install_begin = np.where(android & (rng.random(n_inst) < 0.85),
                                 install_ts - rng.integers(15_000, 300_000, n_inst), -1)
        # the store download begins after the ad click, so a real click is never "injected"
        after_click = click_ts + np.minimum(1000, (install_ts - click_ts) // 2)
        install_begin = np.where(paid & (install_begin > 0), np.maximum(install_begin, after_click), install_begin)
        install_begin = np.where(referrer & (install_begin < 0), np.maximum(install_ts - 20_000, after_click),
                                 install_begin)

        # bots and SDK spoofing: paid hypergrowth installs with no real user behind them
        hyper_paid = paid & (place["network"] == HYPERGROWTH)
        bots = hyper_paid & (rng.random(n_inst) < 0.25)
        spoofed = hyper_paid & ~bots & (rng.random(n_inst) < 0.2)
        prof["ip"][spoofed] = _datacenter_ips(rng, int(spoofed.sum()))
        fraud = np.full(n_inst, -1, np.int8)
        fraud[bots], fraud[spoofed] = FRAUD["bot_behaviour"], FRAUD["sdk_spoofing"]

        pi = np.flatnonzero(paid)
        self._emit_touches(_sub(prof, pi), _sub(place, pi), click_ts[pi], click_touch[pi], ET["click"],
                           fraud=fraud[pi])
        # an impression of the same campaign before some of the clicks (view then click)
        vi = pi[rng.random(len(pi)) < 0.4]
        self._emit_touches(_sub(prof, vi), _sub(place, vi), click_ts[vi] - rng.integers(60_000, MS_DAY, len(vi)),
                           self._touches(len(vi)), ET["impression"])
        # assists: an earlier touch from another network for a quarter of the paid installs
        # (always before the winning click, so the designed click stays the last-touch winner)
        ai = pi[rng.random(len(pi)) < 0.25]
        other = self._placement(len(ai))
        self._emit_touches(_sub(prof, ai), other, click_ts[ai] - rng.integers(MS_HOUR, 5 * MS_DAY, len(ai)),
                           self._touches(len(ai)), np.where(rng.random(len(ai)) < 0.5, ET["click"], ET["impression"]))
        # a winning click before the simulated range is not in the data: that install looks organic
        won = paid & (click_ts >= self.t0)
        self._emit_install(np.arange(n_inst), prof, install_ts, install_begin,
                           np.where(referrer, click_ts, -1), np.where(referrer, click_touch, -1), fraud=fraud,
                           truth_kind=np.where(won, 1, 0), truth_touch=np.where(won, click_touch, -1))
        self.cost_installs.append((np.full(len(pi), d), place["network"][pi], place["campaign"][pi]))

        self._fraud(day0, prof, paid, install_ts, install_begin)
        active = np.ones(n_inst, bool)
        active[bots | spoofed] = False
        if cfg.with_activity:
            self._activity(np.flatnonzero(active), prof, install_ts)
        self._reinstalls(prof, install_ts)

        # clicks and impressions that convert to nothing (the bulk of ad traffic)
        n_clicks = rng.poisson(n_paid * cfg.clicks_per_paid_install)
        n_impr = rng.poisson(n_clicks * cfg.impressions_per_click)
        for n, et in ((n_clicks, ET["click"]), (n_impr, ET["impression"])):
            p = self._device_profile(n)
            pl = self._placement(n)
            ts = day0 + rng.integers(0, MS_DAY, n)
            self._emit_touches(p, pl, ts, self._touches(n), et)

    def _emit_touches(self, prof, place, ts, touch, et, retargeting=None, fraud=None) -> None:
        """Clicks or impressions; ``prof``, ``place`` and the arrays are aligned row by row."""
        n = len(ts)
        if n == 0:
            return
        et = np.broadcast_to(np.asarray(et), (n,))
        self._emit(n, event_type=et, event_ts=ts, touch=touch, fraud=fraud,
                   is_retargeting=0 if retargeting is None else retargeting,
                   has_click_id=(et == ET["click"]).astype(np.int8),
                   **{k: prof[k] for k in ("platform", "device", "ip", "ua", "country", "os_version")},
                   **{k: place[k] for k in ("network", "campaign", "adset", "ad", "site")})

    def _emit_install(self, idx, prof, install_ts, install_begin, ref_ts, ref_touch, fraud=None,
                      truth_kind=None, truth_touch=None) -> None:
        self._emit(len(idx), event_type=ET["install"], event_ts=install_ts[idx],
                   fraud=None if fraud is None else fraud[idx], user=prof["device_key"][idx],
                   truth_kind=0 if truth_kind is None else np.asarray(truth_kind)[idx],
                   truth_touch=None if truth_touch is None else np.asarray(truth_touch)[idx],
                   install_begin_ts=install_begin[idx], referrer_click_ts=ref_ts[idx],
                   referrer_touch=ref_touch[idx],
                   **{k: prof[k][idx] for k in ("platform", "device", "ip", "ua", "country",
                                                 "os_version", "app_version", "sdk_version", "epoch_ms_ts")})

    def _activity(self, idx: np.ndarray, prof, install_ts) -> None:
        """Sessions, in-app events, purchases, ad revenue and uninstalls after each install."""
        cfg, rng = self.cfg, self.rng
        n = len(idx)
        if n == 0:
            return
        horizon = np.maximum(0, (self.t_activity_end - install_ts[idx]) // MS_DAY)  # whole days observable
        max_days = int(horizon.max()) + 1
        day = np.arange(max_days)
        # classic retention r(d) = 0.36 * d^-0.55: D1 36 %, D7 12 %, D30 5 %
        p = np.where(day == 0, 1.0, 0.36 * np.power(np.maximum(day, 1), -0.55))
        active = rng.random((n, max_days)) < p[None, :]
        active &= day[None, :] <= horizon[:, None]
        uninstall_day = np.where(rng.random(n) < 0.15, rng.integers(1, 30, n), 10_000)
        active &= day[None, :] < uninstall_day[:, None]
        ui, dd = np.nonzero(active)
        n_sess = 1 + rng.poisson(1.0, len(ui))
        si = np.repeat(ui, n_sess)
        sday = np.repeat(dd, n_sess)
        gi = idx[si]
        base = install_ts[gi] + sday * MS_DAY
        offset = np.where(sday == 0, rng.integers(2_000, 60_000, len(si)), rng.integers(0, MS_DAY, len(si)))
        ts = np.minimum(base + offset, self.t_activity_end - 1)
        common = {k: prof[k][gi] for k in ("platform", "device", "ip", "ua", "country", "os_version",
                                           "app_version", "sdk_version", "epoch_ms_ts")}
        user = prof["device_key"][gi]
        self._emit(len(si), event_type=ET["session_start"], event_ts=ts, user=user, **common)
        opens = rng.random(len(si)) < 0.3
        self._emit(int(opens.sum()), event_type=ET["app_open"], event_ts=ts[opens] + 500, user=user[opens],
                   **{k: v[opens] for k, v in common.items()})
        # in-app events
        n_ev = rng.poisson(0.8, len(si))
        ei = np.repeat(np.arange(len(si)), n_ev)
        self._emit(len(ei), event_type=ET["in_app_event"], event_ts=ts[ei] + rng.integers(1_000, 600_000, len(ei)),
                   event_name=rng.integers(0, len(IN_APP_EVENT_NAMES), len(ei)), user=user[ei],
                   **{k: v[ei] for k, v in common.items()})
        # purchases by payers, heavy-tailed
        payer = rng.random(n) < cfg.payer_share
        buy = payer[si] & (rng.random(len(si)) < 0.35)
        bi = np.flatnonzero(buy)
        cur = rng.choice(len(CURRENCIES), len(bi), p=CURRENCY_WEIGHTS / CURRENCY_WEIGHTS.sum())
        usd = np.round(np.exp(rng.normal(np.log(4.99), 1.0, len(bi))), 2)
        amount = np.round(usd * CURRENCY_PER_USD[cur], 2)
        self._emit(len(bi), event_type=ET["purchase"], event_ts=ts[bi] + rng.integers(5_000, 900_000, len(bi)),
                   revenue=amount, currency=cur, user=user[bi],
                   **{k: v[bi] for k, v in common.items()})
        # ad revenue impressions inside sessions
        ad = np.flatnonzero(rng.random(len(si)) < 0.4)
        self._emit(len(ad), event_type=ET["ad_revenue"], event_ts=ts[ad] + rng.integers(10_000, 1_200_000, len(ad)),
                   revenue=np.round(np.exp(rng.normal(np.log(0.012), 0.8, len(ad))), 6), currency=0,
                   ad_network=rng.integers(0, len(AD_NETWORKS), len(ad)), user=user[ad],
                   **{k: v[ad] for k, v in common.items()})
        # uninstalls observed in the window
        un = np.flatnonzero((uninstall_day < 10_000) & (uninstall_day <= horizon))
        gu = idx[un]
        self._emit(len(un), event_type=ET["uninstall"], user=prof["device_key"][gu],
                   event_ts=install_ts[gu] + uninstall_day[un] * MS_DAY + rng.integers(0, MS_DAY, len(un)),
                   **{k: prof[k][gu] for k in ("platform", "device", "ip", "ua", "country", "os_version",
                                               "app_version", "sdk_version")})

    def _reinstalls(self, prof, install_ts) -> None:
        """Some devices reinstall days later; a third of them after a retargeting click."""
        rng = self.rng
        cand = np.flatnonzero((prof["device"] >= 0) & (rng.random(len(install_ts)) < self.cfg.reinstall_share))
        re_ts = install_ts[cand] + rng.integers(MS_DAY, 5 * MS_DAY, len(cand))
        keep = re_ts < self.t_end
        cand, re_ts = cand[keep], re_ts[keep]
        minus1 = np.full(len(cand), -1)
        rt = rng.random(len(cand)) < 0.33
        ri = cand[rt]
        rt_touch = self._touches(len(ri))
        truth_touch = minus1.copy()
        truth_touch[rt] = rt_touch
        self._emit_install(np.arange(len(cand)), _sub(prof, cand), re_ts, minus1, minus1, minus1,
                           truth_kind=np.where(rt, 3, 2), truth_touch=truth_touch)
        place = self._placement(len(ri))
        self._emit_touches(_sub(prof, ri), place, re_ts[rt] - rng.integers(10 * 60_000, 20 * MS_HOUR, len(ri)),
                           rt_touch, ET["click"], retargeting=1)

    def _reengagement(self, days: int) -> None:
        """Users installed before the window, inactive for weeks, come back after a retargeting click."""
        rng = self.rng
        n = self.cfg.reengaged_users_per_day * days
        prof = self._device_profile(n, platform=np.ones(n, np.int8))
        click_ts = self.t0 + rng.integers(0, days * MS_DAY, n)
        place = self._placement(n)
        self._emit_touches(prof, place, click_ts, self._touches(n), ET["click"], retargeting=1)
        back = rng.random(n) < 0.6
        open_ts = np.minimum(click_ts + rng.integers(60_000, 3 * MS_DAY, n), self.t_end - 1)
        bi = np.flatnonzero(back)
        self._emit(len(bi), event_type=ET["app_open"], event_ts=open_ts[bi], user=prof["device_key"][bi],
                   **{k: prof[k][bi] for k in ("platform", "device", "ip", "ua", "country", "os_version",
                                               "app_version", "sdk_version")})

    def _fraud(self, day0, prof, paid, install_ts, install_begin) -> None:
        """Touch-level fraud and device farms, with ground-truth labels in the ``fraud`` column."""
        rng = self.rng
        n = len(install_ts)
        hyper, clickmob = HYPERGROWTH, CLICKMOB
        android_dev = (prof["platform"] == 1) & (prof["device"] >= 0)
        # click injection: a click fired between install_begin and the first open
        inj = np.flatnonzero(~paid & android_dev & (install_begin > 0) & (rng.random(n) < 0.06))
        ts = install_begin[inj] + (rng.random(len(inj)) * (install_ts[inj] - install_begin[inj])).astype(np.int64)
        ts = np.clip(ts, install_begin[inj] + 1, install_ts[inj] - 1)
        touches = self._touches(len(inj))
        pl = self._placement(len(inj), np.full(len(inj), hyper))
        self._emit_touches(_sub(prof, inj), pl, ts, touches, ET["click"], fraud=FRAUD["click_injection"])
        # click flooding: flood sites spray clicks on random devices; some hit organic installs days later
        hit = np.flatnonzero(~paid & android_dev & (rng.random(n) < 0.08))
        pl = self._placement(len(hit), np.full(len(hit), clickmob))
        pl["site"] = rng.choice(FLOOD_SITES, len(hit))
        touches = self._touches(len(hit))
        self._emit_touches(_sub(prof, hit), pl, install_ts[hit] - rng.integers(26 * MS_HOUR, 6 * MS_DAY, len(hit)),
                           touches, ET["click"], fraud=FRAUD["click_flood"])
        spray = int(paid.sum() * 2.5)
        sp = self._device_profile(spray, platform=np.ones(spray, np.int8))
        pl = self._placement(spray, np.full(spray, clickmob))
        pl["site"] = rng.choice(FLOOD_SITES, spray)
        touches = self._touches(spray)
        self._emit_touches(sp, pl, day0 + rng.integers(0, MS_DAY, spray), touches, ET["click"],
                           fraud=FRAUD["click_flood"])
        # device farm: clickmob installs from a handful of IPs, each with a fresh device id
        farm_n = max(3, int(paid.sum() * 0.01))
        fp = self._device_profile(farm_n, platform=np.ones(farm_n, np.int8))
        fp["ip"] = rng.choice(_residential_ips(rng, 4), farm_n)
        fp["device"] = fp["device_key"]
        f_ts = day0 + rng.integers(0, MS_DAY, farm_n)
        pl = self._placement(farm_n, np.full(farm_n, clickmob))
        farm_touch = self._touches(farm_n)
        self._emit_touches(fp, pl, f_ts - rng.integers(20_000, 600_000, farm_n), farm_touch,
                           ET["click"], fraud=FRAUD["device_farm"])
        minus1 = np.full(farm_n, -1)
        self._emit_install(np.arange(farm_n), fp, f_ts, minus1, minus1, minus1,
                           fraud=np.full(farm_n, FRAUD["device_farm"], np.int8),
                           truth_kind=np.ones(farm_n, np.int8), truth_touch=farm_touch)
        self._emit(farm_n, event_type=ET["session_start"], event_ts=f_ts + 3_000, user=fp["device_key"],
                   **{k: fp[k] for k in ("platform", "device", "ip", "ua", "country", "os_version",
                                         "app_version", "sdk_version")})

    # -- results ---------------------------------------------------------------------------
    def events(self) -> dict[str, np.ndarray]:
        """All events with ids, upload times (late arrivals) and duplicates (retries)."""
        cols = {k: np.concatenate([p[k] for p in self.parts]) for k in COLUMNS}
        inside = cols["event_ts"] >= self.t0  # touches before the window are not simulated
        cols = {k: v[inside] for k, v in cols.items()}
        rng = self.rng
        n = len(cols["event_type"])
        cols["event_hi"] = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
        cols["event_lo"] = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
        delay = rng.integers(200, 30_000, n)
        late = rng.random(n) < self.cfg.late_share
        delay[late] = rng.integers(MS_HOUR, 3 * MS_DAY, int(late.sum()))
        cols["received_ts"] = cols["event_ts"] + delay
        # SDK retries: the same event (same event_id) uploaded again minutes to hours later
        dup = np.flatnonzero(rng.random(n) < self.cfg.duplicate_share)
        for k in cols:
            cols[k] = np.concatenate([cols[k], cols[k][dup]])
        cols["received_ts"][n:] += rng.integers(60_000, 6 * MS_HOUR, len(dup))
        cols["is_duplicate"] = np.concatenate([np.zeros(n, bool), np.ones(len(dup), bool)])
        order = np.argsort(cols["received_ts"], kind="stable")
        return {k: v[order] for k, v in cols.items()}

    def cost_rows(self) -> dict[str, np.ndarray]:
        """Daily spend per network and campaign, from the paid installs (CPI with noise)."""
        day = np.concatenate([c[0] for c in self.cost_installs])
        net = np.concatenate([c[1] for c in self.cost_installs])
        camp = np.concatenate([c[2] for c in self.cost_installs])
        key = (day * 100 + net) * 100 + camp
        keys, installs = np.unique(key, return_counts=True)
        d, rest = np.divmod(keys, 10_000)
        n, c = np.divmod(rest, 100)
        cpi = np.array([x[2] for x in NETWORKS])[n]
        spend = np.round(installs * cpi * self.rng.normal(1.0, 0.08, len(keys)), 2)
        clicks = (installs * self.cfg.clicks_per_paid_install * self.rng.normal(1, 0.1, len(keys))).astype(np.int64)
        return {"day": d, "network": n, "campaign": c, "spend": np.maximum(spend, 0.0),
                "clicks": clicks, "impressions": (clicks * 40).astype(np.int64)}


def _sub(columns: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in columns.items()}


def _residential_ips(rng, n: int) -> np.ndarray:
    first = rng.choice(np.array([24, 49, 68, 73, 81, 92, 98, 109, 151, 176, 189, 201]), n)
    return (first.astype(np.uint32) << 24) | rng.integers(0, 2**24, n, dtype=np.uint32)


def _datacenter_ips(rng, n: int) -> np.ndarray:
    first = rng.choice(np.array([34, 35, 52, 54]), n)  # cloud provider ranges
    return (first.astype(np.uint32) << 24) | rng.integers(0, 2**24, n, dtype=np.uint32)
