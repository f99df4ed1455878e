"""Backtest tools, apart from the worker's I/O: the simulator, the CSV importer and the evaluation.

``stream`` itself is the worker, replay and the command line; these modules produce labelled event
histories and judge alerts against labels, and are run by the ``simulate``, ``import`` and
``evaluate`` sub-commands.
"""
