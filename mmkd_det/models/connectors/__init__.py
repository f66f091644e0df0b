from .abf import ABFConnector
from .conv_adapter import ConvAdapter

__all__ = ['ABFConnector', 'ConvAdapter']
