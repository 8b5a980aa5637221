"""Device side: the MQTT contract and the simulated firmware."""
