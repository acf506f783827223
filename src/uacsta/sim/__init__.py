"""The phone simulator: uaCSTA desk phones of the manual's vendors, over real
TCP or TLS, as test peer, load generator and a phone for CTI developers."""
