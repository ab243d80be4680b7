"""Export ``neuro`` networks to other tools: NIR graphs (:mod:`neuro.export.nir`)."""

from .nir import NIRNetwork, from_nir, read_nir, to_nir

__all__ = ["NIRNetwork", "from_nir", "read_nir", "to_nir"]
