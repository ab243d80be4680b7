"""Export ``neuro`` networks to other tools: NIR graphs (:mod:`neuro.export.nir`)."""

from .nir import NIRNetwork, from_nir, read_nir, to_nir
from .nir_nodes import fold_batch_norm

__all__ = ["NIRNetwork", "fold_batch_norm", "from_nir", "read_nir", "to_nir"]
