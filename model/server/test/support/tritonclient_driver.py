"""Drive the model server with tritonclient[http] (the Triton/KServe Open Inference Protocol
client, pinned in model/training/requirements.txt), the way its users call it by default:
binary tensors in and out. Prints one JSON object with what came back, for
model/server/test/tritonclient.test.ts to judge.

usage: python tritonclient_driver.py <host:port> <model> <photo.jpg>
"""

from __future__ import annotations

import base64
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main() -> None:
    url, model, photo = sys.argv[1], sys.argv[2], sys.argv[3]
    client = httpclient.InferenceServerClient(url=url, connection_timeout=60.0, network_timeout=120.0)
    out: dict = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "extensions": client.get_server_metadata()["extensions"],
    }
    meta = client.get_model_metadata(model)
    inp, outp = meta["inputs"][0], meta["outputs"][0]
    _, c, h, w = inp["shape"]
    x = np.random.default_rng(7).standard_normal((1, c, h, w)).astype(np.float32)

    # the client's default: binary input, no outputs named (so binary_data_output: true)
    t = httpclient.InferInput(inp["name"], list(x.shape), "FP32")
    t.set_data_from_numpy(x, binary_data=True)
    binary = client.infer(model, [t]).as_numpy(outp["name"])

    # the same tensor as JSON both ways
    t = httpclient.InferInput(inp["name"], list(x.shape), "FP32")
    t.set_data_from_numpy(x, binary_data=False)
    as_json = client.infer(
        model, [t], outputs=[httpclient.InferRequestedOutput(outp["name"], binary_data=False)]
    ).as_numpy(outp["name"])

    # binary input, the output named and asked for as binary
    t = httpclient.InferInput(inp["name"], list(x.shape), "FP32")
    t.set_data_from_numpy(x, binary_data=True)
    named = client.infer(
        model, [t], outputs=[httpclient.InferRequestedOutput(outp["name"], binary_data=True)]
    ).as_numpy(outp["name"])
    out["fp32"] = {
        "shape": list(binary.shape),
        "dtype": str(binary.dtype),
        "max_abs_diff_binary_vs_json": float(np.max(np.abs(binary - as_json))),
        "max_abs_diff_named_vs_json": float(np.max(np.abs(named - as_json))),
        "first": float(binary.flat[0]),
    }

    # an encoded photo as a BYTES element, binary both ways
    jpeg = open(photo, "rb").read()
    t = httpclient.InferInput(inp["name"], [1], "BYTES")
    t.set_data_from_numpy(np.array([jpeg], dtype=np.object_), binary_data=True)
    r = client.infer(model, [t])
    mask = r.as_numpy("mask")
    out["photo"] = {
        "mask_png_base64": base64.b64encode(mask[0]).decode(),
        "coverage": [float(v) for v in r.as_numpy("coverage")],
    }

    # a bad request is the server's 400, raised by the client with the server's message
    t = httpclient.InferInput(inp["name"], [1, c, h, w - 1], "FP32")
    t.set_data_from_numpy(np.zeros((1, c, h, w - 1), np.float32), binary_data=True)
    try:
        client.infer(model, [t])
        out["bad_shape"] = None
    except InferenceServerException as e:
        out["bad_shape"] = {"status": e.status(), "message": e.message()}
    client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
