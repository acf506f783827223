"""ECMA-323 CSTA XML: typed model, codec for every edition, Annex J framing,
and the ECMA-269 call-state table.  Sans-IO, independent of SIP."""
