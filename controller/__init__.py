"""The Tryggbo controller daemon: MQTT link, twins, command bus, store, HTTP API, CLI."""
