from .checkpoint_safety import register_safe_checkpoint_globals

__all__ = ['register_safe_checkpoint_globals']
