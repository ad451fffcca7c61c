"""Peerlog's reconciliation core: records, the merge rule, the push/pull engine, cursors, scopes.

Imports neither Litestar nor anything in ``server/``.
"""
