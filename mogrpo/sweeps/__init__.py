"""Sweeps: what the jobs of a Hydra multirun left, summarised (``python -m mogrpo.summarize``, and
``python -m mogrpo.evaluate sensitivity=DIR``).

- :mod:`mogrpo.sweeps.jobs`         which dirs hold a job, and each job's overrides, summary and history
- :mod:`mogrpo.sweeps.table`        jobs grouped by configuration, statistics over seeds, summary.csv / .md
- :mod:`mogrpo.sweeps.plots`        the sweep's PNGs
- :mod:`mogrpo.sweeps.sensitivity`  the spread of the final aligned safety across seeds, per group size G
- :mod:`mogrpo.sweeps.summary`      :func:`summarize`: all of the above for one or more multirun dirs
"""
