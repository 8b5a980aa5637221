"""Web pages (dashboard, room screen, call page)."""
