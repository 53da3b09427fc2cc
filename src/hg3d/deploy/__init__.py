"""Deployment: the network exported to ONNX or TorchScript (``export``), and run by ONNX Runtime
from a trusted cache of exports (``onnx_runtime``). Nothing here imports the training stack."""

BACKENDS = ("torch", "onnxruntime")  # what runs the pose network: Estimator.from_checkpoint(backend=...)
FORMATS = ("onnx", "torchscript")  # what hg3d-export writes
