"""Face geometry: landmark detection, the FACE_LANDMARKS format, zones and their masks (pure modules)."""
