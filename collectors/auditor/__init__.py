"""The traffic auditor: fast header decoding, detectors, events and metrics per site."""
