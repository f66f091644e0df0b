from .roi_distiller import RoIDistiller
from .teacher import build_teacher

__all__ = ['RoIDistiller', 'build_teacher']
