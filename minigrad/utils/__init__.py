"""minigrad.utils: helpers with PyTorch's ``torch.utils`` names (``minigrad.utils.data``: Dataset,
TensorDataset, DataLoader, samplers and ``default_collate``)."""
from . import data

__all__ = ["data"]
