"""Simulation: the phantom microscope that the simulated source and the training data use.

- ``phantom``: cells, nuclei and DNA from a refractive-index model; paired QPI and DAPI
- ``optics``: the same specimen imaged as phase contrast or bright-field
"""
