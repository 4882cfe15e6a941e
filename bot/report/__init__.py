"""The compliance report (issue 14): charts as PNG, and the report as HTML, CSV or JSON."""
