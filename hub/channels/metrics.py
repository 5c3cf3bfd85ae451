"""Routing metrics on the hub's registry. Labels: category, priority, channel,
site and unit ids; never a person."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hub.alerts import Alert

_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class RoutingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.times = {
            what: Histogram(
                f"trygg_alert_time_to_{what}_seconds",
                f"From an alert being raised to {what.replace('_', ' ')}",
                ["category", "priority"],
                buckets=_BUCKETS,
                registry=r,
            )
            for what in ("accept", "on_site", "resolve")
        }
        self.outcomes = Counter(
            "trygg_alert_outcomes_total",
            "Resolved alerts by rule and outcome (false-alarm rate per rule)",
            ["rule", "outcome"],
            registry=r,
        )
        self.escalations = Counter(
            "trygg_escalations_total",
            "Escalation steps taken",
            ["category", "priority"],
            registry=r,
        )
        self.failures = Counter(
            "trygg_notify_failures_total",
            "Deliveries that failed after retries",
            ["channel"],
            registry=r,
        )
        self.delivery = Histogram(
            "trygg_notify_delivery_seconds",
            "From handing a message to a channel to the channel having it",
            ["channel"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30),
            registry=r,
        )
        self.nobody_on_duty = Counter(
            "trygg_nobody_on_duty_total", "Times a unit or alert found nobody on duty", registry=r
        )
        self.uncovered = Gauge(
            "trygg_unit_uncovered",
            "1 while a rostered unit has nobody on duty",
            ["site", "unit"],
            registry=r,
        )

    def observe(self, alert: Alert, what: str, now: datetime) -> None:
        key = {"accept": "accept", "on_site": "on_site", "resolved": "resolve"}.get(what)
        if key is not None:
            seconds = max(0.0, (now - alert.raised_at).total_seconds())
            self.times[key].labels(str(alert.category), str(alert.priority)).observe(seconds)
        if what == "resolved" and alert.outcome is not None:
            self.outcomes.labels(alert.rule, str(alert.outcome)).inc()
