"""The check rules of the audit protocol (DESIGN §4), one module per kind of evidence.

Each rule turns curves into a `CheckResult`: a verdict and a one-line reason with the
numbers behind it, judged against the audit's `Tolerances` (docs/method.md).
"""
