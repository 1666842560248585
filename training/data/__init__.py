"""Data: raw pairs -> normalised fields with nucleus weights -> augmented crops.

- ``readers``: folders, TIFF, OME-Zarr, NDTiff and single files -> validated raw pairs
- ``fields``: splits (by experiment or columns), normalisation, nucleus weight maps
- ``segment``: nuclei segmented from a target (loss weights; the evaluation's truth)
- ``augment``: random crops, geometry, microscope drift
"""
