from .dkd_loss import DKDLoss, dkd_loss
from .feature_mse_loss import FeatureMSELoss
from .hcl_loss import HCLLoss, hcl_loss
from .kd_loss import LogitKDLoss, kd_loss
from .ldrld_loss import LDRLDLoss, ldrld_loss
from .logit_loss_base import BaseLogitDistillLoss
from .logit_norm import build_logit_norm, perception, zscore

__all__ = [
    'perception', 'zscore', 'build_logit_norm', 'BaseLogitDistillLoss',
    'LogitKDLoss', 'kd_loss', 'DKDLoss', 'dkd_loss', 'LDRLDLoss', 'ldrld_loss',
    'HCLLoss', 'hcl_loss', 'FeatureMSELoss'
]
