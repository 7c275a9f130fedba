"""rtcpeer.sdp."""
