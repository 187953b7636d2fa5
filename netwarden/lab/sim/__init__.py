"""A stateful Cisco IOS simulator that unmodified NAPALM and Netmiko drive."""
