"""The evidence report a person reads: HTML and PDF, from a verified bundle's events."""
