"""Backtest of alerts against labels: account-level metrics (``metrics``) and the HTML report (``report``)."""
