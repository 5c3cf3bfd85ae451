"""The device registry of the technical aid service (issue 8): records, store port, API."""
