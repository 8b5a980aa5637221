"""Devices on a serial line: the line protocol (:mod:`.protocol`), the bridge that
makes such a device a normal MQTT contract device (:mod:`.bridge`), and a simulated
serial firmware on a pseudo-terminal (:mod:`.simulated`). See docs/serial.md."""
