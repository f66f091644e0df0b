"""Result analysis: method comparisons, their records and reports, D-ECE.

* planning and running the runs of a comparison: ``comparison`` (what a run
  is: configs, split, final config and its hash), ``comparison_plan`` (which
  runs, and running them) and ``comparison_runs`` (one run's process and
  record);
* reading and storing records: ``records`` (a work dir's scalar logs,
  ``results.json``);
* tables and plots: ``report`` (the one report writer and plotter, the
  Markdown table, ``tools/report.py``'s table) and ``comparison_report``
  (the comparison's, tuning grid's and quickstart's tables), with
  ``stats`` over seeds;
* ``tune_grid``: the tuning grid and the gradient rule behind its weights;
* ``calibration``: D-ECE.

``calibration``, ``records``, ``report`` and ``stats`` depend only on numpy,
matplotlib and the standard library; ``tune_grid``'s gradient measure on
torch; the comparison modules add mmengine's ``Config`` to read configs. None
of them builds or runs a model (``tools/analysis/gradient_scale.py`` does,
for the gradient measure). Nothing is re-exported here on purpose: importing
this package must stay free of side effects and cheap.
"""
