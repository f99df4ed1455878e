"""The I/O shell around the detectors: Faust worker, topics, dead letters, metrics and the CLI."""
