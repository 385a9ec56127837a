"""Cameras: cheap motion, tamper and person analysis on numpy frames, OpenCV capture, an agent.

Layers follow the data: `geometry` (relative polygons), `motion`, `tamper`, `person` and `qr`
(pure analysis of frames), `decide` (debounce and hysteresis with time injected), `analysis`
(one frame in, what to publish out), `capture` (cv2.VideoCapture, reconnects, snapshots) and
`agent` (emits through an Emitter). Nothing is re-exported: import the module you need.
"""
