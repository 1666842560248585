"""Files: ``readers`` for recordings (TIFF, OME-Zarr, NDTiff) that the replay and
watch sources read, and ``sinks`` that save what a subscriber receives."""
