# engine_agreement.R -- R DESeq2's Wald stats for benchmarks/engine_agreement.py --r (not a runtime dependency).
#
# Reads counts.tsv (genes x samples, the genes the Python fits tested) and samples.tsv (sample, patient, site) from
# the folder given as the first argument, fits ~ patient + site with DESeq() defaults twice (site's base level
# primary, as fit_model makes it when shrinking, and alphabetical: liver_metastasis), and writes r_stats.tsv there:
# gene_id, R_reference, R_alphabetical (results(contrast = c("site", "liver_metastasis", "primary"))$stat).
# VERSIONS: R 4.2.2, DESeq2 1.38.3 (Debian r-bioc-deseq2).
suppressPackageStartupMessages(library(DESeq2))
folder <- commandArgs(trailingOnly = TRUE)[1]
counts <- as.matrix(read.delim(file.path(folder, "counts.tsv"), row.names = 1, check.names = FALSE))
sheet <- read.delim(file.path(folder, "samples.tsv"), row.names = 1)[colnames(counts), c("patient", "site")]
sheet$patient <- factor(sheet$patient)
site <- as.character(sheet$site)
out <- data.frame(gene_id = rownames(counts))
for (base in c("reference", "alphabetical")) {
  levels <- if (base == "reference") c("primary", "liver_metastasis") else sort(unique(site))
  sheet$site <- factor(site, levels = levels)
  dds <- DESeq(DESeqDataSetFromMatrix(counts, sheet, ~ patient + site), quiet = TRUE)
  stopifnot(identical(levels(dds$site), levels))  # the base level asked for
  out[[paste0("R_", base)]] <- results(dds, contrast = c("site", "liver_metastasis", "primary"))$stat
}
write.table(out, file.path(folder, "r_stats.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
