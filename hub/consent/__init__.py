"""Consent and legal basis on the hub: the registry's records, enforcement on ingest,
placement checks, notices before expiry and review, and the API (see docs/consent.md).

The decision itself is :func:`rules.consent.check`, shared with the gateway."""
