"""The ``wegweiser`` command line."""
