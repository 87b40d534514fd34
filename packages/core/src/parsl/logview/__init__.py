"""Reading a run's logs back: one task's timeline, step latencies, traces and plots.

Behind the ``parsl logs`` command (:mod:`parsl.logview.cli`). Every reader streams: log
files are read line by line, lines that cannot concern what was asked for are skipped
before they are parsed, and only the records being reported are held in memory.
"""
