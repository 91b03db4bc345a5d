"""A minimal stand-in for the model server's POST /predictions/wms, built on the training
package's own ONNX inference (used to test `evaluate --url`).  Run as a subprocess:
python reference_server.py <model.onnx> <model-card.json> <port>"""

import io
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wms_training.evaluate import onnx_mask_fn  # noqa: E402


def main() -> None:
    model, card_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fn = onnx_mask_fn(model, json.loads(Path(card_path).read_text()), threads=1)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/ping" else 404)
            self.end_headers()

        def do_POST(self):
            if self.path != "/predictions/wms":
                self.send_response(404)
                self.end_headers()
                return
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                im = ImageOps.exif_transpose(Image.open(io.BytesIO(body))).convert("RGB")
            except Exception as e:  # bad input is a 400, as in the real server
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(e).encode())
                return
            mask = fn(im, Path("upload"))
            buf = io.BytesIO()
            Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L").save(buf, "PNG")
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(buf.tell()))
            self.end_headers()
            self.wfile.write(buf.getvalue())

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
