"""Running a site: health, metrics, backup, retention, the resident export, the brokers
Tryggbo starts itself, and the demo."""
