"""igpw_viz: interleaved grouped pointwise convolutions without divisibility constraints.

Plans (pure Python index maths), a fast PyTorch layer, kEffNet-B0, drawings, widgets, datasets and
training for the method of Schwarz Schuler et al., Entropy 2022.
"""

__version__ = "0.1.0"
