"""Delivery channels behind one port (``hub.channels.base.Channel``): MQTT to
handhelds, a signed webhook for a response centre or SMS provider. The board
gets every alert change over SSE from ``hub.feed`` already."""
