"""Hardware at the edge: pure decoders, thin serial transports and agents that emit events.

Nothing is re-exported here on purpose: importing a pure decoder must not import pyserial.
"""
