"""seefood: take a food-image classifier from training to the edge.

Importing the package has no side effects and does not import torch, so the runtime
modules can be used where only ONNX Runtime or OpenVINO is installed.
"""

__version__ = "0.1.0"
