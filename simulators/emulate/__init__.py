"""Device-level emulators: they speak the devices' own protocols, encoded by the catalogue.

``Z2mBridge`` publishes Zigbee2MQTT state and availability messages,
``owntracks_message`` builds OwnTracks JSON, ``SerialDevice`` writes NMEA or
stove guard sentences into a pty pair. Encoders come from ``devices`` (the
same definitions the gateway converts with), so round trips can be tested.
"""
