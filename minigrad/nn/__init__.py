"""minigrad.nn: layers and training utilities (this stub only exposes ``nn.utils``)."""
from . import utils
