"""Programs built on rtcpeer that the `rtcpeer` command runs (shell code: may use asyncio)."""
