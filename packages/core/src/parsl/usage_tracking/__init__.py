"""Parsl's usage tracking settings.

``Config(usage_tracking=...)`` accepts Parsl's levels so configurations keep loading; this
project never sends usage data anywhere, whatever the level.
"""
