"""One module per device type; each defines ``SPEC``, a
:class:`~devices.contract.type_spec.DeviceTypeSpec`. A module added here is a
registered type (:data:`devices.contract.DEVICE_TYPES`)."""
