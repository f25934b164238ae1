"""A development SMTP sink: accepts mail over real SMTP and stores each one as an .eml file.

`python -m services.email.sink serve|list|show` (see docs/email.md). Its test modes provoke the
replies the email worker must handle: 550 for recipients matching a pattern, 451 for every mail,
and a stall after storing a mail (the worker can be killed while it waits for the 250).
"""
