"""The edge gateway (MQTT and serial adapters, outbox, uplink): the gateway issue builds it."""
