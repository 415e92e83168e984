"""The method as plain data (pure Python: no torch, no matplotlib): the grouping plan (all index maths),
the EfficientNet-B0 table and its conventions, and every published number."""
