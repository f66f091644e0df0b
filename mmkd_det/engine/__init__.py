from .distributed import close_distributed, setup_cpu_distributed
from .optim_constructor import DistillOptimWrapperConstructor
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state
from .runtime import (add_common_args, add_config_args, add_mmkd_hooks,
                      build_runner, load_tool_config, override_data_root)
from .safe_load_hook import SafeCheckpointLoadHook, check_resume_checkpoint
from .teacher_check_hook import TeacherCheckHook, check_teacher_classes

__all__ = [
    'setup_cpu_distributed', 'close_distributed',
    'DistillOptimWrapperConstructor', 'override_data_root', 'add_config_args',
    'add_common_args', 'load_tool_config', 'build_runner', 'add_mmkd_hooks',
    'RNGStateHook', 'get_rng_state', 'set_rng_state', 'SafeCheckpointLoadHook',
    'check_resume_checkpoint', 'TeacherCheckHook', 'check_teacher_classes'
]
