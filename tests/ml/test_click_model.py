"""The click-quality model reads the public TalkingData format and learns from next-click gaps."""

import numpy as np
import pandas as pd

from ml import click_model as cm


def talkingdata_sample(path, n_users=1500, seed=1):
    """A TalkingData-shaped CSV: honest users click once or twice and install 30 % of the time;
    click farms fire bursts from shared IPs seconds apart and never install."""
    rng = np.random.default_rng(seed)
    rows, t0 = [], pd.Timestamp("2017-11-07 00:00:00")
    for u in range(n_users):
        t = t0 + pd.Timedelta(seconds=int(rng.integers(0, 2 * 86400)))
        for k in range(int(rng.integers(1, 3))):
            rows.append((10_000 + u, 3, 1, 13, 100 + u % 5, t + pd.Timedelta(hours=3 * k), int(rng.random() < 0.3)))
    for _ in range(300):
        ip, t = int(rng.integers(1, 20)), t0 + pd.Timedelta(seconds=int(rng.integers(0, 2 * 86400)))
        for k in range(int(rng.integers(5, 15))):
            rows.append((ip, 3, 1, 19, 200, t + pd.Timedelta(seconds=int(2 * k)), 0))
    df = pd.DataFrame(rows, columns=["ip", "app", "device", "os", "channel", "click_time", "is_attributed"])
    df["attributed_time"] = ""
    df.sort_values("click_time").to_csv(path, index=False)


def test_trains_on_the_talkingdata_format(tmp_path, spark, mlflow_home):
    talkingdata_sample(tmp_path / "train_sample.csv")
    frame = cm.features(cm.read_talkingdata_csv(spark, str(tmp_path / "train_sample.csv"))).toPandas()
    assert {"next_gap_ip_app_device_os", "cnt_ip_app", "nuniq_ip_channel"} <= set(frame.columns)
    result = cm.train(frame, source="talkingdata_sample")
    assert result["metrics"]["roc_auc"] > 0.7
    assert result["gate"]["promoted"]
