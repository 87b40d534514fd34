"""The parsl-htex version; managers send it at registration so mismatches are refused."""
VERSION = "2026.11.0"
