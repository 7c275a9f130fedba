"""rtcpeer.rtp."""
