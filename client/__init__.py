"""Headless client for a running ComfyUI server (`python -m facelab queue`): stdlib only, never imported by the nodes.

- websocket.py        minimal RFC 6455 client (text/binary frames, client masking, ping/pong, close)
- api.py              HTTP calls (upload, queue, history, view, cancel) and the websocket event stream
- workflow_inputs.py  set inputs of an API-format workflow by node title (pure dict logic)
- run_workflow.py     one input image through the server: upload, queue, follow, download atomically
- cli.py              the `queue` sub-command
"""
