"""The host-tissue admixture stage: how much liver a liver-metastasis biopsy carries, and how much exocrine pancreas
a primary carries, estimated from host profiles (``reference``: the shipped HPA v23 host reference, its
tissue-specific genes and the cell-type anchors)."""
