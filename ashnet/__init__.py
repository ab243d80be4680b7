"""ashnet: Artificial-Spiking Hierarchical Networks for vision-language representation learning."""

__version__ = "0.1.0"
