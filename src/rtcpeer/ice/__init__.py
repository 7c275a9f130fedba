"""rtcpeer.ice."""
