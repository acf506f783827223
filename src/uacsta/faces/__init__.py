"""The client faces: uaCSTA over SIP, and JSON over WebSocket plus REST."""
