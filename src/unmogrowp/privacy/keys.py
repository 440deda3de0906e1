"""Keyed pseudonyms for device ids and IPs, and IP truncation (SPEC §8).

Raw identifiers live only in bronze, silver and their ClickHouse mirror (``raw``). Every analytics
table (marts, feature tables, the online store) carries these instead. The key is the settings'
``privacy_key`` (``UNMOGROWP_DEVICE_KEY_SALT``), passed in; Python, Spark (``features.py``) and dbt (the
``device_key`` macro) compute the same values: ``sha256(key:app:id)`` for a device,
``sha256(key:ip:address)`` for an IP (not per app, so one address is one key across apps).
"""

from __future__ import annotations

import hashlib
import ipaddress

IPV4_PREFIX = 24
IPV6_PREFIX = 48
DEFAULT_KEY = "local-dev-salt"  # the development key (dbt's `unmogrowp__device_key_salt` default too)


def device_key(app_id: str, device_id: str | None, event_id: str, key: str) -> str:
    """dbt's ``device_key``: the device's vendor id or ad id, or the event itself when it has none."""
    value = device_id if device_id is not None else f"event:{event_id}"
    return hashlib.sha256(f"{key}:{app_id}:{value}".encode()).hexdigest()


def ip_key(ip: str | None, key: str) -> str | None:
    return None if ip is None else hashlib.sha256(f"{key}:ip:{ip}".encode()).hexdigest()


def truncate_ip(ip: str | None) -> str | None:
    """The network of an address: IPv4 /24, IPv6 /48, as CIDR text; None for a non-address."""
    if ip is None:
        return None
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    bits = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{addr}/{bits}", strict=False))
