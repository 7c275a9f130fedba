"""rtcpeer.srtp."""
