"""Apps: decorated functions whose calls become tasks."""
