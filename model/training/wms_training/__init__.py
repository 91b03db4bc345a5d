"""Training pipeline for the water-meter segmentation U-Net (wms)."""

__version__ = "0.1.0"
