"""The lab: simulated IOS devices and Linux sites in network namespaces."""
