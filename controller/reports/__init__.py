"""Reports the municipality reads: response times to alarms (``response_times``), their
charts (``charts``) and the XLSX export (``workbook``)."""
