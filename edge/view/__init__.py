"""Looking at the stream: ``printer`` (one line per message, ``aglu-edge subscribe``)
and ``viewer`` (napari, ``aglu-edge view``)."""
