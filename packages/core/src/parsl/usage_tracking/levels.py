"""The usage tracking levels of ``Config(usage_tracking=...)``, with Parsl's values.

Accepted for compatibility only: no level sends anything from this project.
"""
DISABLED = 0
LEVEL_1 = 1
LEVEL_2 = 2
LEVEL_3 = 3
