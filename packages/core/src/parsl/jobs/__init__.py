"""Batch-job (block) state shared by executors, providers and the scaling strategy."""
