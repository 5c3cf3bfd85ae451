"""The deployment files: they parse, refer to files that exist, and name metrics the hub has.

Docker and Prometheus cannot run here; this is what can be checked without them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from hub.channels.metrics import RoutingMetrics
from hub.metrics import Metrics

DEPLOY = Path(__file__).parents[2] / "deploy"
METRIC = re.compile(r"\btrygg_[a-z_]+")


def _known_series() -> set[str]:
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    metrics = Metrics()
    RoutingMetrics(metrics.registry)  # the router counts on the hub's registry
    for family in metrics.registry.collect():
        names.add(family.name)
        names.update(family.name + end for end in suffixes.get(family.type, ()))
    return names


def _metric_names(text: str) -> set[str]:
    return set(METRIC.findall(text)) - {"trygg_hub"}  # the job name


def test_prometheus_rules_and_dashboard_name_only_real_metrics() -> None:
    known = _known_series()
    rules_text = (DEPLOY / "prometheus" / "trygg-rules.yml").read_text()
    rules = yaml.safe_load(rules_text)
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"TryggHubDown", "TryggIngestQueueGrowing", "TryggStoreFailing",
            "TryggUnitNobodyOnDuty"} <= names  # fmt: skip
    dashboard = json.loads((DEPLOY / "grafana" / "trygg-hub.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for text in (rules_text, exprs):
        unknown = _metric_names(text) - known
        assert not unknown, f"not exported by hub.metrics: {sorted(unknown)}"
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    assert "alert flow" in titles and "per unit" in titles


def test_prometheus_config_loads_the_rules() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/trygg-rules.yml"]
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"


def test_compose_refers_to_files_that_exist() -> None:
    compose_dir = DEPLOY / "compose"
    compose = yaml.safe_load((compose_dir / "compose.yaml").read_text())
    assert {"hub", "mosquitto", "postgres"} <= set(compose["services"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("../"):  # repository files; ./secrets are made at install
                assert (compose_dir / source).resolve().exists(), (name, source)
    build = compose["services"]["hub"]["build"]
    assert (compose_dir / build["context"] / build["dockerfile"]).resolve().exists()
    hub_env = compose["services"]["hub"]["environment"]
    assert hub_env["TRYGG_MQTT_TLS"] == "true"
    assert "TRYGG_DATABASE_URL" not in hub_env  # a secret: only in secrets/hub.env


def test_mosquitto_config_refuses_anonymous_and_uses_tls() -> None:
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    lines = [line.strip() for line in conf.splitlines() if not line.strip().startswith("#")]
    assert "allow_anonymous false" in lines
    assert "per_listener_settings false" in lines
    assert any(line.startswith("certfile ") for line in lines)
    assert any(line.startswith("acl_file ") for line in lines)
    assert any(line.startswith("password_file ") for line in lines)


def test_the_hub_unit_is_hardened() -> None:
    unit = (DEPLOY / "systemd" / "trygg-hub.service").read_text()
    settings = {
        line.split("=", 1)[0] for line in unit.splitlines() if "=" in line and line[0] != "#"
    }
    assert {"NoNewPrivileges", "ProtectSystem", "CapabilityBoundingSet", "SystemCallFilter",
            "RestrictAddressFamilies", "PrivateTmp", "ProtectHome", "UMask"} <= settings  # fmt: skip
    assert "User=trygg" in unit and "User=root" not in unit
