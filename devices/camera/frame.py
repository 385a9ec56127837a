"""The camera frame type: a uint8 numpy image (numpy only, no cv2), for the kiosk and the camera wing."""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
"""One image: height x width (x channels, BGR as OpenCV gives it) of uint8."""


def u8(image: object) -> Frame:
    """An OpenCV result known to be a uint8 image, typed as such (no copy, no check)."""
    return cast(Frame, image)
