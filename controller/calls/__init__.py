"""The room screen's page and the relatives' video link.

- :mod:`.visiting`: weekly visiting hours (site file default, per apartment, or set by staff).
- :mod:`.invitations`: signed, expiring, revocable invitation links bound to one resident.
- :mod:`.screen_bridge`: the kiosk page and the screen's MQTT identity as one device.
- :mod:`.signalling`: call state and WebRTC signalling relay (media never passes here).
"""
