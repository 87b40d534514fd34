"""Plugin machinery: entry-point registry of components and pluggy hooks."""
