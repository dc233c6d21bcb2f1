"""``report.md`` and its plots from an evaluation's result (:mod:`~mogrpo.reports.report`), with its refusal
section (:mod:`~mogrpo.reports.refusal`), the side-by-side answers (:mod:`~mogrpo.reports.side_by_side`) and the
reward model's calibration.md (:mod:`~mogrpo.reports.calibration`)."""
