"""TorchServe handler: the same weights (eager PyTorch, batch norm folded as in the ONNX file) and the same preprocessing as training
(wms_training.preprocess), PNG mask out, so that it answers exactly what the Node server does."""

import io
import json
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageOps
from ts.torch_handler.base_handler import BaseHandler


class WmsHandler(BaseHandler):
    def initialize(self, context):
        model_dir = context.system_properties["model_dir"]
        cfg = json.load(open(os.path.join(model_dir, "bench-config.json")))
        sys.path.insert(0, cfg["trainingDir"])
        sys.path.insert(0, model_dir)  # folded.py travels in the .mar
        from folded import folded_unet
        from wms_training import preprocess

        self.pre = preprocess
        self.card = json.load(open(os.path.join(model_dir, "model-card.json")))
        torch.set_num_threads(int(cfg.get("threads", 2)))
        self.model = folded_unet(self.card)
        self.model.load_state_dict(torch.load(os.path.join(model_dir, "model.pt"), map_location="cpu"))
        self.model.eval()
        self.initialized = True

    def handle(self, data, context):
        spec = self.card["io"]["input"]["preprocessing"]
        threshold = self.card["io"]["output"]["threshold"]
        out = []
        for i, row in enumerate(data):
            body = row.get("data") or row.get("body")
            im = ImageOps.exif_transpose(Image.open(io.BytesIO(body))).convert("RGB")
            x = torch.from_numpy(self.pre.preprocess_image(im, spec))
            with torch.no_grad():
                logits = self.model(x).numpy()[0, 0]
            mask = self.pre.postprocess(logits, im.size, threshold)
            buf = io.BytesIO()
            Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(buf, format="PNG")
            context.set_response_content_type(i, "image/png")
            out.append(buf.getvalue())
        return out
