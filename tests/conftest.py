"""The hardware suite's options (--port, --model, --baud) come from the tinyrnn pytest plugin
(host/check/pytest_plugin.py), which the installed package registers; nothing to add here."""
