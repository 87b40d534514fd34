"""The parsl-core version, kept in one place."""
VERSION = "2026.11.0"
