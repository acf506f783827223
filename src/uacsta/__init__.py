"""uacsta: an open-source uaCSTA server for SIP desk phones."""

__version__ = "0.1.0"
