"""The numbers of an evaluation, from answers and scores already there (no generation, no model loading).

- :mod:`~mogrpo.metrics.aspects`      the per-aspect base vs aligned table and the aggregate reward
- :mod:`~mogrpo.metrics.refusal`      the refusal detector (its cues: :mod:`~mogrpo.metrics.refusal_patterns`)
- :mod:`~mogrpo.metrics.refusal_sets` XSTest over-refusal and AdvBench compliance
- :mod:`~mogrpo.metrics.tables`       a prompt set's tables: all prompts, per kind, per source
- :mod:`~mogrpo.metrics.calibration`  the reward regressor against held-out labels; :mod:`~mogrpo.metrics.ranking`
  the aggregate ranking rates
- :mod:`~mogrpo.metrics.diversity`, :mod:`~mogrpo.metrics.alarms`, :mod:`~mogrpo.metrics.acceptance`
- :mod:`~mogrpo.metrics.results`      reading the numbers back out of an eval.json / summary.json
- :mod:`~mogrpo.metrics.pareto`       non-dominated filtering and the exact hypervolume (all aspects maximised)
"""
