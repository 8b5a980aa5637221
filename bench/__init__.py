"""Benchmarks: figures and ratios against raw MQTT baselines on the same Mosquitto."""
