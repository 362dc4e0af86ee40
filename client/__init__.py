"""Headless client for running ComfyUI servers (`python -m facelab queue`): stdlib only, never imported by the nodes.

- websocket.py        minimal RFC 6455 client (text/binary frames, client masking, ping/pong, close)
- api.py              HTTP calls (upload, queue, history, view, cancel), deadlines, basic auth, size caps
- workflow_inputs.py  set inputs of an API-format workflow by node title or type (pure dict logic)
- options.py          the `queue` arguments -> prepared workflow, photos, server list
- run_workflow.py     one input image through one server: upload, queue, follow, download atomically
- console.py          progress and errors of the one-server mode on stderr
- dispatch.py         a photo set over several servers (slots, retries, back-off, Ctrl-C)
- dispatch_report.py  its progress (rate, ETA, --json events) and summary
- manifest.py         its resumable JSON-lines manifest
- cli.py              the `queue` sub-command
"""
