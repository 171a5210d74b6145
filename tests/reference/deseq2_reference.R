# deseq2_reference.R -- reference results from R DESeq2 for the tiny test cohort.
#
# WHAT: runs R/Bioconductor DESeq2 on tests/data/counts.tsv.gz + tests/data/samples.tsv and writes
#       small TSV tables to tests/reference/ that the workflow's pydeseq2 stage is tested against.
#       R is a TEST-DATA TOOL ONLY: nothing in the workflow or its tests runs R; the tables are committed.
#
# HOW TO RUN (from the repository root; Debian 12 "bookworm"):
#
#     apt-get install -y --no-install-recommends r-bioc-deseq2
#     Rscript tests/reference/deseq2_reference.R
#
# VERSIONS that made the committed tables (full list in tests/reference/sessionInfo.txt):
#     R 4.2.2 Patched (2022-11-10 r83330)   Debian r-base-core 4.2.2.20221110-2
#     DESeq2 1.38.3                          Debian r-bioc-deseq2 1.38.3+dfsg-1
#
# OUTPUT FORMAT: tab-separated, header line, no quotes; numbers with 10 significant digits
#     (C format "%.10g"); missing values (NA) are written as the literal string "NA".
#
# The run is deterministic: the only random step in DESeq2 here is the simulation-based estimate of the
# dispersion prior variance, which DESeq2 uses when the residual degrees of freedom are <= 3 (the
# primary + liver_metastasis subset: 8 samples - 5 coefficients = 3). A fixed seed is set before each fit.
# (DESeq2 seeds that simulation itself, set.seed(2), so the estimate does not depend on SEED: dispPriorVar
# 0.5365365 for the subset, trend.tsv.)

suppressPackageStartupMessages(library(DESeq2))

## ---------------------------------------------------------------------------------------------------
## Paths (relative to the repository root)
## ---------------------------------------------------------------------------------------------------
counts_path  <- file.path("tests", "data", "counts.tsv.gz")
samples_path <- file.path("tests", "data", "samples.tsv")
out_dir      <- file.path("tests", "reference")
if (!file.exists(counts_path) || !dir.exists(out_dir)) {
  stop("Run this script from the repository root: Rscript tests/reference/deseq2_reference.R")
}

SEED <- 20240601L           # fixed seed (see header); any fixed value works, this one made the tables
MIN_COUNT <- 10             # pre-filter: a gene is kept if it has counts >= MIN_COUNT ...
MIN_SAMPLES <- 4            # ... in at least MIN_SAMPLES samples
ALPHA <- 0.05               # results(): target FDR for independent filtering

## ---------------------------------------------------------------------------------------------------
## Helpers
## ---------------------------------------------------------------------------------------------------

# Format a numeric vector with 10 significant digits; NA -> "NA".
fmt <- function(x) {
  out <- sprintf("%.10g", x)
  out[is.na(x)] <- "NA"
  out
}

# Write a data.frame: numeric columns through fmt(), everything else as is; TSV, no quotes.
write_tsv <- function(df, name) {
  for (col in names(df)) {
    if (is.numeric(df[[col]])) df[[col]] <- fmt(df[[col]])
  }
  path <- file.path(out_dir, name)
  write.table(df, path, sep = "\t", quote = FALSE, row.names = FALSE, col.names = TRUE)
  message("wrote ", path, " (", nrow(df), " rows)")
}

# results() table in the agreed column order.
results_table <- function(res) {
  data.frame(gene_id        = rownames(res),
             baseMean       = res$baseMean,
             log2FoldChange = res$log2FoldChange,
             lfcSE          = res$lfcSE,
             stat           = res$stat,
             pvalue         = res$pvalue,
             padj           = res$padj,
             stringsAsFactors = FALSE)
}

# Pre-filter: keep genes with counts >= MIN_COUNT in at least MIN_SAMPLES of the given samples.
prefilter <- function(counts) {
  counts[rowSums(counts >= MIN_COUNT) >= MIN_SAMPLES, , drop = FALSE]
}

## ---------------------------------------------------------------------------------------------------
## Inputs
## ---------------------------------------------------------------------------------------------------
counts_df <- read.delim(gzfile(counts_path), check.names = FALSE, stringsAsFactors = FALSE)
counts <- as.matrix(counts_df[, -1, drop = FALSE])
rownames(counts) <- counts_df$gene_id
storage.mode(counts) <- "integer"

samples <- read.delim(samples_path, stringsAsFactors = FALSE)
rownames(samples) <- samples$sample
# Sample sheet order must match the count columns.
stopifnot(setequal(samples$sample, colnames(counts)))
samples <- samples[colnames(counts), , drop = FALSE]
# All covariates as factors; site with normal_pancreas as the reference level.
samples$patient <- factor(samples$patient)
samples$batch   <- factor(samples$batch)
samples$site    <- factor(samples$site, levels = c("normal_pancreas", "primary", "liver_metastasis"))
stopifnot(!anyNA(samples$site))

## ---------------------------------------------------------------------------------------------------
## 1. Full design on all 12 samples: ~ patient + site, reference normal_pancreas
## ---------------------------------------------------------------------------------------------------
counts_full <- prefilter(counts)
message("full design: ", nrow(counts_full), " of ", nrow(counts), " genes pass the pre-filter")

dds <- DESeqDataSetFromMatrix(countData = counts_full, colData = samples, design = ~ patient + site)
dds$site <- relevel(dds$site, ref = "normal_pancreas")   # explicit, although already the first level
set.seed(SEED)
# Defaults: fitType "parametric", Wald test, betaPrior FALSE, minReplicatesForReplace 7 (no site group has
# 7 replicates here, so no Cook's replacement happens).
dds <- DESeq(dds)
stopifnot("site_liver_metastasis_vs_normal_pancreas" %in% resultsNames(dds))

# Size factors (median-of-ratios).
write_tsv(data.frame(sample = colnames(dds), size_factor = unname(sizeFactors(dds)),
                     stringsAsFactors = FALSE),
          "size_factors.tsv")

# Dispersions: gene-wise MLE (Cox-Reid adjusted), fitted trend, final (MAP or gene-wise for outliers).
write_tsv(data.frame(gene_id     = rownames(dds),
                     dispGeneEst = mcols(dds)$dispGeneEst,
                     dispFit     = mcols(dds)$dispFit,
                     dispersion  = mcols(dds)$dispersion,
                     stringsAsFactors = FALSE),
          "dispersions.tsv")

# Contrasts: name -> c(target, reference) on the site factor.
contrasts <- list(
  primary_vs_normal    = c("primary", "normal_pancreas"),
  liver_met_vs_normal  = c("liver_metastasis", "normal_pancreas"),
  liver_met_vs_primary = c("liver_metastasis", "primary")
)
for (name in names(contrasts)) {
  # Defaults: independentFiltering TRUE (on baseMean, target alpha), cooksCutoff qf(0.99, p, m - p).
  # Note: DESeq2 only looks at Cook's distances of samples whose model-matrix row occurs >= 3 times; with
  # ~ patient + site every row is unique, so no p-value is removed for Cook's outliers in this cohort.
  res <- results(dds, contrast = c("site", contrasts[[name]]), alpha = ALPHA)
  write_tsv(results_table(res), paste0("deseq2_", name, ".tsv"))
}

# Shrunken LFCs, type "normal" (the only type available from Debian: apeglm and ashr are not packaged).
# For a sign/magnitude sanity comparison only (pydeseq2 offers apeGLM-style shrinkage, not "normal").
shr <- lfcShrink(dds, coef = "site_liver_metastasis_vs_normal_pancreas", type = "normal", quiet = TRUE)
write_tsv(data.frame(gene_id = rownames(shr), log2FoldChange = shr$log2FoldChange,
                     stringsAsFactors = FALSE),
          "deseq2_liver_met_vs_normal_shrunk_normal.tsv")

# Dispersion trend dispersion(mean) = asymptDisp + extraPois / mean, plus the prior variance of the
# log dispersions used for the MAP step (dispPriorVar) and the observed variance (varLogDispEsts).
trend_rows <- function(dds, design) {
  f <- dispersionFunction(dds)
  coefs <- attr(f, "coefficients")
  data.frame(design    = design,
             parameter = c("asymptDisp", "extraPois", "dispPriorVar", "varLogDispEsts"),
             value     = c(coefs[["asymptDisp"]], coefs[["extraPois"]],
                           attr(f, "dispPriorVar"), attr(f, "varLogDispEsts")),
             stringsAsFactors = FALSE)
}
trend <- trend_rows(dds, "full")

## ---------------------------------------------------------------------------------------------------
## 2. Paired subset: primary + liver_metastasis only, ~ patient + site, reference primary
## ---------------------------------------------------------------------------------------------------
keep_samples <- samples$site %in% c("primary", "liver_metastasis")
samples_sub <- droplevels(samples[keep_samples, , drop = FALSE])
samples_sub$site <- relevel(samples_sub$site, ref = "primary")
counts_sub <- prefilter(counts[, rownames(samples_sub), drop = FALSE])  # >= 4 of the 8 subset samples
message("subset design: ", nrow(counts_sub), " of ", nrow(counts), " genes pass the pre-filter")

dds_sub <- DESeqDataSetFromMatrix(countData = counts_sub, colData = samples_sub,
                                  design = ~ patient + site)
set.seed(SEED)
# Residual df = 8 - 5 = 3: DESeq2 estimates the dispersion prior variance by simulation here (seeded).
dds_sub <- DESeq(dds_sub)
res_sub <- results(dds_sub, contrast = c("site", "liver_metastasis", "primary"), alpha = ALPHA)
write_tsv(results_table(res_sub), "deseq2_subset_liver_met_vs_primary.tsv")
trend <- rbind(trend, trend_rows(dds_sub, "subset_primary_liver_met"))

write_tsv(trend, "trend.tsv")

## ---------------------------------------------------------------------------------------------------
## Provenance
## ---------------------------------------------------------------------------------------------------
writeLines(capture.output(sessionInfo()), file.path(out_dir, "sessionInfo.txt"))
message("wrote ", file.path(out_dir, "sessionInfo.txt"))
