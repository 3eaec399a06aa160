"""Delivery: sending a finished run's output to its channels (SPEC §8).

``base`` holds the contract (payload, receipt, channel, context), ``router`` picks channels and never raises,
one module per channel (``stdout``, ``log_file``, ``webhook``, ``slack``, ``email``, ``custom``), ``redact``
masks secrets. The receipts are stored by ``store/deliveries.py``. Import the submodules you need; this package
imports nothing.
"""
