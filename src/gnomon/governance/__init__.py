"""Governance: who may ask and what they may see.

It holds authentication (``auth``: API keys, bearer tokens), policies (roles, row-level security,
column masking), and the audit log. Security lives in the query path, not in the interfaces: the
API authenticates a request into a :class:`gnomon.context.Principal`, and every read of lake data
is rewritten for that principal before it runs.
"""
