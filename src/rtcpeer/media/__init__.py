"""rtcpeer.media."""
