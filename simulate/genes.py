"""Gene lists, site labels and the gene universe of the simulated pNEN cohorts.

The hand-picked lists name the genes the planted programmes and the legacy liver signature use; the gene universe
is one row per protein-coding gene with one Ensembl id per symbol (:func:`prepare_gene_table`).
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "SITES",
    "CONTRASTS",
    "ACINAR_GENES",
    "EXOCRINE_DUCTAL_GENES",
    "NEUROENDOCRINE_GENES",
    "HEPATOCYTE_GENES",
    "HEPATOCYTE_CORE_GENES",
    "TRANSCRIPTIONAL_MISREGULATION_GENES",
    "TARGET_AXIS_GENES",
    "prepare_gene_table",
]

#: Site labels, in the order normal, primary, metastasis.
SITES: tuple[str, str, str] = ("normal_pancreas", "primary", "liver_metastasis")

#: Default contrasts: name -> (numerator site, denominator site).
CONTRASTS: dict[str, tuple[str, str]] = {
    "primary_vs_normal": ("primary", "normal_pancreas"),
    "liver_met_vs_normal": ("liver_metastasis", "normal_pancreas"),
    "liver_met_vs_primary": ("liver_metastasis", "primary"),
}


#: Acinar (exocrine) enzymes: very high in normal pancreas, lost in tumours.
ACINAR_GENES: tuple[str, ...] = (
    "PRSS1", "PRSS2", "PRSS3", "CPA1", "CPA2", "CPB1", "CELA2A", "CELA2B", "CELA3A", "CELA3B", "CTRB1", "CTRB2",
    "CTRC", "CTRL", "PNLIP", "PNLIPRP1", "PNLIPRP2", "CEL", "PLA2G1B", "CLPS", "SPINK1", "REG1A", "GP2", "CUZD1",
    "SYCN",
)

#: Exocrine differentiation (acinar transcription factors) and ductal genes of normal pancreas, lost in tumours.
EXOCRINE_DUCTAL_GENES: tuple[str, ...] = (
    "PTF1A", "RBPJL", "NR5A2", "BHLHA15", "GATA4", "CFTR", "SLC4A4", "CA2", "SOX9", "ONECUT1", "HNF1B", "AQP8",
    "AQP12A", "SERPINI2", "PDIA2", "ERP27", "GATM", "REG1B", "REG3A", "REG3G", "TFF2", "KLK1", "CELA1", "TMED6",
)

#: Neuroendocrine markers: moderate in normal pancreas (islets), high in pNENs.
NEUROENDOCRINE_GENES: tuple[str, ...] = (
    "CHGA", "CHGB", "SCG2", "SCG3", "SCG5", "SYP", "INSM1", "NEUROD1", "ENO2", "PCSK1", "PCSK2", "SNAP25", "SYT1",
)

#: Hepatocyte signature: very high in liver tissue, near zero in pancreas and tumour.
HEPATOCYTE_GENES: tuple[str, ...] = (
    "ALB", "APOA1", "APOA2", "APOB", "APOC3", "APOH", "APOA5", "FGA", "FGB", "FGG", "AHSG", "TF", "GC", "HP", "HPX",
    "HRG", "SERPINA1", "SERPINC1", "TTR", "RBP4", "ORM1", "ORM2", "AMBP", "KNG1", "F2", "ITIH1", "ITIH2", "CYP2E1",
    "CYP3A4", "CYP2C8", "CYP2C9", "CYP1A2", "C8A", "C8B", "MAT1A", "AGXT",
)

#: The 20 best-known hepatocyte genes (the tiny cohort's liver signature).
HEPATOCYTE_CORE_GENES: tuple[str, ...] = (
    "ALB", "APOA1", "APOA2", "APOB", "APOC3", "APOH", "FGA", "FGB", "FGG", "AHSG", "TF", "GC", "HP", "HPX",
    "SERPINA1", "TTR", "RBP4", "ORM1", "CYP2E1", "CYP3A4",
)

#: "Transcriptional misregulation in cancer": fusion partners and oncogenic transcription factors (hand-picked,
#: in the spirit of KEGG hsa05202, which is not redistributable).
TRANSCRIPTIONAL_MISREGULATION_GENES: tuple[str, ...] = (
    "MYC", "MYCN", "RUNX1", "RUNX1T1", "RUNX2", "ETV1", "ETV4", "ETV5", "ETV6", "ERG", "FLI1", "EWSR1", "PAX3",
    "PAX7", "PAX8", "FOXO1", "KMT2A", "MLLT3", "AFF1", "MLLT1", "MLLT10", "HOXA9", "HOXA10", "MEIS1", "PBX1", "LMO2",
    "TAL1", "LYL1", "DDIT3", "FUS", "NR4A3", "ID2", "CEBPA", "CEBPB", "SPI1", "BCL6", "ZBTB16", "RARA", "PML",
    "NUP98", "TLX1", "WT1", "ATF1", "SS18", "TFE3", "MAF",
)

#: Receptors and ligands of the four target axes (EGFR, VEGFR, FGFR, CSF1R), plus the TAM markers.
TARGET_AXIS_GENES: tuple[str, ...] = (
    "EGFR", "ERBB2", "ERBB3", "ERBB4", "EGF", "TGFA", "AREG", "EREG", "HBEGF",
    "FLT1", "KDR", "FLT4", "VEGFA", "VEGFC", "PGF",
    "FGFR1", "FGFR2", "FGF2",
    "CSF1R", "CSF1", "IL34", "CD68", "CD163", "MRC1",
)



def prepare_gene_table(gene_map: pd.DataFrame, gene_type: str = "protein-coding") -> pd.DataFrame:
    """One row per gene: protein-coding genes with one Ensembl id per symbol and one symbol per Ensembl id.

    Parameters
    ----------
    gene_map : DataFrame
        Columns ``ensembl_gene_id, symbol, gene_type`` (others ignored).
    gene_type : str
        Value of ``gene_type`` to keep.

    Returns
    -------
    DataFrame
        Columns ``gene_id, symbol``, sorted by ``gene_id``. Version suffixes are stripped. Where an Ensembl id has
        several symbols, a symbol without ``-`` and not starting with ``LOC`` is preferred, then the first in
        alphabetical order; where a symbol has several Ensembl ids, the smallest id is kept.
    """
    df = gene_map.loc[gene_map["gene_type"] == gene_type, ["ensembl_gene_id", "symbol"]].dropna()
    df = df.astype(str)
    df["gene_id"] = df["ensembl_gene_id"].str.replace(r"\.\d+$", "", regex=True)
    df = df[df["gene_id"].str.match(r"^ENSG\d+$") & (df["symbol"].str.len() > 0)]
    df["_odd"] = df["symbol"].str.contains("-") | df["symbol"].str.startswith("LOC")
    df = df.sort_values(["gene_id", "_odd", "symbol"], kind="mergesort").drop_duplicates("gene_id")
    df = df.sort_values(["symbol", "gene_id"], kind="mergesort").drop_duplicates("symbol")
    return df[["gene_id", "symbol"]].sort_values("gene_id", kind="mergesort").reset_index(drop=True)
