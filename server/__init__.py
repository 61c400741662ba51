"""virtual-audit server: HTTP, signaling and the media hub."""

import os

from server.settings import guard_image_decoder

# Before anything imports cv2 (recorder/ does): OpenCV reads its pixel limit only then.
guard_image_decoder(os.environ)

__version__ = "0.1.0"
