"""Micro-Manager: three ways to feed the daemon from an acquisition.

- ``edge.sources.mm.hook``: a pycromanager ``image_process_fn`` (``hook_to_daemon``,
  ``hook_in_process``) that hands each frame off and returns at once.
- ``edge.sources.mm.sidecar``: the daemon reads a running Micro-Manager beside it
  (``[source] kind = "mm-sidecar"``).
- ``edge.sources.mm.pymmplus``: a pymmcore-plus core's frames, in process.
- ``edge.sources.mm.convert``: the Micro-Manager image -> Frame conversion they share.
"""
