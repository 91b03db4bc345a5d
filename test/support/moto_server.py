"""moto's S3 server (the venv's moto, its own `main`) with one change: object PUTs run one at a
time. S3 applies a conditional PUT (If-None-Match: *, If-Match) atomically with the write;
moto 5's threaded server checks the condition and then writes without a lock
(moto/s3/responses.py S3Response.put_object), so two racing conditional PUTs could both
succeed there, and the race test of putOnce (test/store/s3.test.ts) would test moto, not us.

usage: python moto_server.py -H 127.0.0.1 -p <port>   (the arguments of moto_server)
"""

import sys
import threading

from moto import server
from moto.s3.responses import S3Response

_lock = threading.Lock()
_put_object = S3Response.put_object


def put_object(self):  # noqa: ANN001, ANN201: moto's own signature
    with _lock:
        return _put_object(self)


S3Response.put_object = put_object

if __name__ == "__main__":
    server.main(sys.argv[1:])
