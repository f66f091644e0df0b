from .distributed import setup_cpu_distributed
from .optim_constructor import DistillOptimWrapperConstructor
from .runtime import (add_common_args, add_config_args, build_runner,
                      load_tool_config, override_data_root)

__all__ = [
    'setup_cpu_distributed', 'DistillOptimWrapperConstructor',
    'override_data_root', 'add_config_args', 'add_common_args',
    'load_tool_config',
    'build_runner'
]
