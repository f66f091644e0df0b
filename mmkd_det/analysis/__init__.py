"""Result reporting and detection calibration analysis.

The submodules only depend on numpy, matplotlib and the standard library, so
they can be imported (``mmkd_det.analysis.report``,
``mmkd_det.analysis.calibration``) without building any model. Nothing is
re-exported here on purpose: importing this package must stay free of side
effects and cheap.
"""
