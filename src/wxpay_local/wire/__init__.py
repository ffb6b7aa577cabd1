"""The v2 wire format, pure: the XML codec, signatures, field kinds and the answer envelope."""
