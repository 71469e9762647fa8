"""rgsync: keep a mailbox and a Salesforce org in step, one incremental session at a time."""

__version__ = "0.1.0"
