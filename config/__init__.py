"""Settings, the site file and device credentials."""
