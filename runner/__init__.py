"""Run the whole system locally from the Procfile under honcho: `python -m runner`."""
