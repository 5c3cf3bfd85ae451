"""The hub: ingest, store, alerts, API. Pure decisions in alerts/decide; I/O in the rest."""
