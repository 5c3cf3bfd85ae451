"""Prometheus metrics of one hub. A registry per hub, so tests and the bench
can run several hubs in one process. Labels never carry personal data."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_received = Counter(
            "trygg_events_received_total", "MQTT messages received on event topics", registry=r
        )
        self.events_rejected = Counter(
            "trygg_events_rejected_total",
            "Messages rejected, by reason",
            ["reason"],
            registry=r,
        )
        self.events_duplicate = Counter(
            "trygg_events_duplicate_total", "Events dropped as already seen (by id)", registry=r
        )
        self.events_stored = Counter(
            "trygg_events_stored_total", "Events committed to the store", registry=r
        )
        self.events_unknown_device = Counter(
            "trygg_events_unknown_device_total",
            "Valid events from devices missing in the registry (stored and evaluated)",
            registry=r,
        )
        self.alerts_raised = Counter(
            "trygg_alerts_raised_total",
            "Alerts raised, by category and priority",
            ["category", "priority"],
            registry=r,
        )
        self.alert_transitions = Counter(
            "trygg_alert_transitions_total",
            "Alert transitions, by target state",
            ["state"],
            registry=r,
        )
        self.alert_latency = Histogram(
            "trygg_alert_latency_seconds",
            "From the event's own time to the alert's first notification",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.store_batch_size = Histogram(
            "trygg_store_batch_size",
            "Events per store commit",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.store_batch_seconds = Histogram(
            "trygg_store_batch_seconds",
            "Time to write and commit one batch of events",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=r,
        )
        self.store_failures = Counter(
            "trygg_store_failures_total", "Store writes that failed and will be retried", registry=r
        )
        self.queue_depth = Gauge(
            "trygg_ingest_queue_depth", "Validated events waiting for the store", registry=r
        )
        self.broker_connected = Gauge(
            "trygg_broker_connected", "1 while the hub is connected to the broker", registry=r
        )
        self.broker_reconnects = Counter(
            "trygg_broker_reconnects_total", "Connections lost to the broker", registry=r
        )
        self.rule_errors = Counter(
            "trygg_rule_errors_total",
            "Rule evaluations that raised (the event is still stored)",
            registry=r,
        )
        self.clock_skew = Counter(
            "trygg_events_clock_skew_total",
            "Events whose time is more than the allowed skew ahead of the hub's clock",
            registry=r,
        )
        # --- added with the production backends (issue 7) ---
        self.rules_seconds = Histogram(
            "trygg_rules_seconds",
            "Time to evaluate the rules and alert decisions for one event",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
            registry=r,
        )
        # Notify failures (trygg_notify_failures_total) and units with nobody on duty
        # (trygg_unit_uncovered) are counted by hub.channels.metrics on this registry.
        self.alert_response = Histogram(
            "trygg_alert_response_seconds",
            "From an alert being raised to a staff member accepting it, by unit and category",
            ["unit", "category"],
            buckets=(5, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600),
            registry=r,
        )
        self.devices_offline = Gauge(
            "trygg_devices_offline",
            "Registered devices not heard from within the offline threshold, by site",
            ["site"],
            registry=r,
        )
        self.gateways_offline = Gauge(
            "trygg_gateways_offline",
            "Gateways none of whose devices was heard from within the threshold, by site",
            ["site"],
            registry=r,
        )
        self.store_up = Gauge(
            "trygg_store_up", "1 while the last store write succeeded", registry=r
        )
        self.store_up.set(1)
        # --- the rule engine in the hub (issue 3); rule names are not personal data ---
        self.alerts_suppressed = Counter(
            "trygg_alerts_suppressed_total",
            "Alerts a rule matched but did not raise, by rule and reason",
            ["rule", "reason"],
            registry=r,
        )
        self.alerts_cancelled_by_resident = Counter(
            "trygg_alerts_cancelled_by_resident_total",
            "Open alerts the resident cancelled (second press, cancel key), by category",
            ["category"],
            registry=r,
        )
        self.alerts_withdrawn = Counter(
            "trygg_alerts_withdrawn_total",
            "Held alerts their rule cancelled before any channel had them, by rule",
            ["rule"],
            registry=r,
        )
        self.rule_reloads = Counter(
            "trygg_rule_reloads_total", "Rule file reloads, by result (ok, failed)", ["result"],
            registry=r,
        )
        self.events_flood_contained = Counter(
            "trygg_events_flood_contained_total",
            "Events stored but not evaluated because their device was flooding",
            registry=r,
        )
