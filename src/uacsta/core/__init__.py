"""The switching function seen by clients: devices, monitors, routing, events."""
