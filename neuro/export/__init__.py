"""Export ``neuro`` networks to other tools: NIR graphs (:mod:`neuro.export.nir`)."""

from .nir import DEFAULT_DT, NIRNetwork, from_nir, graph_dt, read_nir, to_nir
from .nir_nodes import fold_batch_norm

__all__ = ["DEFAULT_DT", "NIRNetwork", "fold_batch_norm", "from_nir", "graph_dt", "read_nir", "to_nir"]
