"""Local stand-ins of the SaaS APIs psflow talks to, speaking their real wire formats.

Imported by no production code: it is a separate server (`psflow sandbox`), reached over HTTP by the
real client libraries, exactly as they reach the real services.
"""
