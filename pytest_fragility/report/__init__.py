"""Reports of audits: terminal (rich), JSON, HTML with plots, baselines.

Every renderer works on the plain-dict form of an audit (`AuditResult.to_dict()`),
which is also what travels between pytest-xdist workers and what JSON files hold.
"""
