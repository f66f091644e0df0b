"""Result reporting and detection calibration analysis.

``report``, ``calibration`` and ``stats`` only depend on numpy, matplotlib
and the standard library; the method comparison (``comparison``,
``comparison_plan``, ``comparison_report``, ``results_store``,
``tune_grid``) adds mmengine's ``Config`` to read configs. None of them
builds a model. Nothing is re-exported here on purpose: importing this
package must stay free of side effects and cheap.
"""
