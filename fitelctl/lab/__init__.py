"""The embedded lab: simulated F220s over real SSH on 127.0.0.1.

Production code never imports it.
"""
