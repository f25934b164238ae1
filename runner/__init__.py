"""Run the whole system locally from the Procfile under supervisord: `python -m runner`."""
