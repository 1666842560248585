"""The network side: what goes out of the daemon and how subscribers read it.

- ``wire``: the multipart wire format (version, header, buffers), encode/decode
- ``messages``: the frame, status and model messages the daemon publishes
- ``publisher``: the PUB socket (latest-wins, never blocks the stainer)
- ``client``: ``Subscriber``, the SUB side for viewers and scripts
- ``curve``: CURVE keys for subscribers beyond this PC
- ``endpoints``: endpoint checks and binding
- ``control``: the REQ/REP control socket (ping, status, reload, stop)
- ``closing``: the context-manager base of the socket owners
"""
