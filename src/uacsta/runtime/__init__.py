"""The running server's parts that are neither protocol nor domain: the live
settings, the phone and client services (listeners started and stopped as the
administrator asks), the housekeeping rounds and the status report.  The
composition root (``uacsta.server``) wires them."""
