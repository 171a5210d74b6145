# deseq2_parity.R -- R DESeq2 references for the DE engine's parity suite (tests/diffexp/test_parity.py).
#
# WHAT: simulates eight small cohorts (the eighth fitted twice, with either site level as the base), each a design shape where DESeq2 and pydeseq2 part ways (few residual
#       degrees of freedom, a trend the parametric curve cannot fit, a continuous covariate, all-zero and
#       outlier genes, Cook's replacement), runs DESeq() with its defaults on each and writes the counts, the
#       sample sheet and DESeq2's size factors, dispersions (gene-wise, trend, MAP, final), prior variance, trend
#       type, Wald results and padj at alpha 0.05 and 0.1, and the threshold test (|LFC| > 0.5, padj at 0.1).
#       Also the QC matrix's transform, vst(blind = TRUE), and its trend; for three scenarios vst(blind = TRUE,
#       fitType = "local") too, for one varianceStabilizingTransformation(blind = TRUE); and an eighth cohort for the
#       transform only, where vst()'s parametric fit fails. R is a TEST-DATA TOOL ONLY: the tables are committed.
#
# HOW TO RUN (from the repository root; Debian 12 "bookworm"):
#     apt-get install -y --no-install-recommends r-bioc-deseq2
#     Rscript tests/reference/parity/deseq2_parity.R
#
# VERSIONS: R 4.2.2, DESeq2 1.38.3 (Debian r-bioc-deseq2 1.38.3+dfsg-1); sessionInfo.txt beside this script.
# OUTPUT: tests/reference/parity/<scenario>/{counts.tsv.gz, samples.tsv, size_factors.tsv, summary.tsv,
#         genes.tsv.gz, vst.tsv.gz, vst_trend.tsv}, vst_local.tsv.gz (two_vs_two, paired, trend_failure),
#         vst_all.tsv.gz (two_vs_two); vst_local_fallback/{counts.tsv.gz, samples.tsv, vst.tsv.gz, vst_trend.tsv};
#         tab-separated, numbers with 10 significant digits, NA as "NA".

suppressPackageStartupMessages(library(DESeq2))
root <- file.path("tests", "reference", "parity")
if (!dir.exists(root)) stop("Run from the repository root: Rscript tests/reference/parity/deseq2_parity.R")

N_GENES <- 2000
N_ZERO <- 20       # all-zero genes (the last ones)
N_OUTLIER <- 10    # genes with one sample's count multiplied (Cook's distance)
LFC_THRESHOLD <- 0.5  # results(lfcThreshold =, altHypothesis = "greaterAbs"), at alpha 0.1

fmt <- function(x) { out <- sprintf("%.10g", x); out[is.na(x)] <- "NA"; out }
write_tsv <- function(df, path) {
  for (col in names(df)) if (is.numeric(df[[col]]) && !is.integer(df[[col]])) df[[col]] <- fmt(df[[col]])
  con <- if (grepl("\\.gz$", path)) gzfile(path, "w") else file(path, "w")
  write.table(df, con, sep = "\t", quote = FALSE, row.names = FALSE, col.names = TRUE)
  close(con)
}

# Counts: NB with a mean-dispersion trend (or the trend `disp_of_mean` gives; log-normal scatter of sd `disp_sd`
# around it), 15% of genes changed by site,
# `extra` a samples x genes matrix of further log effects (covariates, batches, patients).
simulate <- function(seed, sheet, extra = NULL, disp_of_mean = function(mu) 0.08 + 1.5 / mu, disp_sd = 0.6) {
  set.seed(seed)
  n <- nrow(sheet)
  base <- exp(rnorm(N_GENES, log(150), 1.8))
  disp <- disp_of_mean(base) * exp(rnorm(N_GENES, 0, disp_sd))
  lfc <- ifelse(runif(N_GENES) < 0.15, sample(c(-1, 1), N_GENES, TRUE) * runif(N_GENES, 0.8, 3), 0)
  sf <- runif(n, 0.6, 1.6)
  log_mu <- outer(rep(1, n), log(base)) + outer(sheet$site == "b", lfc * log(2)) + log(sf)
  if (!is.null(extra)) log_mu <- log_mu + extra
  counts <- matrix(rnbinom(n * N_GENES, mu = exp(log_mu), size = outer(rep(1, n), 1 / disp)), n, N_GENES)
  counts[, (N_GENES - N_ZERO + 1):N_GENES] <- 0L
  out <- sample(N_GENES - N_ZERO, N_OUTLIER)
  for (g in out) { s <- sample(n, 1); counts[s, g] <- counts[s, g] * 30L + 50L }
  counts <- t(counts)
  storage.mode(counts) <- "integer"
  rownames(counts) <- sprintf("g%04d", seq_len(N_GENES))
  colnames(counts) <- sheet$sample
  counts
}

# The QC matrix's transform: vst(blind = TRUE) with its defaults (trend on nsub = 1000 genes, parametric unless that
# fit fails, then a local fit integrated numerically), on a fresh object as the workflow's QC rule does it; with
# `local`, also vst(blind = TRUE, fitType = "local") (vst_local.tsv.gz); with `all_genes`, also
# varianceStabilizingTransformation(blind = TRUE), the trend fitted on every gene (vst_all.tsv.gz), what DESeq2
# recommends where fewer than nsub genes have a mean normalised count above 5.
write_vst <- function(dir, counts, coldata, local = FALSE, all_genes = FALSE) {
  blind <- DESeqDataSetFromMatrix(counts[rowSums(counts) > 0, ], coldata, ~ 1)
  vsd <- suppressMessages(vst(blind, blind = TRUE))
  write_tsv(data.frame(gene_id = rownames(vsd), assay(vsd), check.names = FALSE), file.path(dir, "vst.tsv.gz"))
  # vst() keeps no trend in what it returns: its steps again (DESeq2 1.38.3's vst(), nsub = 1000), for the trend
  blind <- estimateSizeFactors(blind)
  base_mean <- rowMeans(counts(blind, normalized = TRUE))
  sub <- blind[base_mean > 5, ]
  order_sub <- order(base_mean[base_mean > 5])
  sub <- sub[order_sub[round(seq(from = 1, to = length(order_sub), length = 1000))], ]
  sub <- estimateDispersionsFit(estimateDispersionsGeneEst(sub, quiet = TRUE), quiet = TRUE)
  vst_fn <- dispersionFunction(sub)
  vst_coefs <- attr(vst_fn, "coefficients")
  write_tsv(data.frame(parameter = c("fitType", "asymptDisp", "extraPois"),
                       value = c(attr(vst_fn, "fitType"), fmt(if (is.null(vst_coefs)) NA else vst_coefs[1]),
                                 fmt(if (is.null(vst_coefs)) NA else vst_coefs[2]))),
            file.path(dir, "vst_trend.tsv"))
  write_extra <- function(vsd, file) {
    write_tsv(data.frame(gene_id = rownames(vsd), assay(vsd), check.names = FALSE), file.path(dir, file))
  }
  fresh <- function() DESeqDataSetFromMatrix(counts[rowSums(counts) > 0, ], coldata, ~ 1)
  if (local) write_extra(suppressMessages(vst(fresh(), blind = TRUE, fitType = "local")), "vst_local.tsv.gz")
  if (all_genes) {
    write_extra(suppressMessages(varianceStabilizingTransformation(fresh(), blind = TRUE)), "vst_all.tsv.gz")
  }
}

run <- function(name, sheet, counts, design, local = FALSE, all_genes = FALSE, site_levels = NULL) {
  dir <- file.path(root, name)
  dir.create(dir, showWarnings = FALSE)
  write_tsv(data.frame(gene_id = rownames(counts), counts, check.names = FALSE), file.path(dir, "counts.tsv.gz"))
  write_tsv(sheet, file.path(dir, "samples.tsv"))
  coldata <- sheet
  for (col in names(coldata)) if (is.character(coldata[[col]])) coldata[[col]] <- factor(coldata[[col]])
  if (!is.null(site_levels)) coldata$site <- factor(sheet$site, levels = site_levels)  # the design's base level
  rownames(coldata) <- sheet$sample
  dds <- DESeqDataSetFromMatrix(counts, coldata, design)
  dds <- DESeq(dds, quiet = TRUE)
  fn <- dispersionFunction(dds)
  coefs <- attr(fn, "coefficients")
  summary <- data.frame(
    parameter = c("fitType", "dispPriorVar", "varLogDispEsts", "asymptDisp", "extraPois", "residual_df"),
    value = c(attr(fn, "fitType"), fmt(attr(fn, "dispPriorVar")), fmt(attr(fn, "varLogDispEsts")),
              fmt(if (is.null(coefs)) NA else coefs[1]), fmt(if (is.null(coefs)) NA else coefs[2]),
              ncol(dds) - ncol(model.matrix(design(dds), colData(dds)))))
  write_tsv(summary, file.path(dir, "summary.tsv"))
  write_tsv(data.frame(sample = colnames(dds), size_factor = sizeFactors(dds)), file.path(dir, "size_factors.tsv"))
  res05 <- results(dds, contrast = c("site", "b", "a"), alpha = 0.05)
  res10 <- results(dds, contrast = c("site", "b", "a"), alpha = 0.1)
  # the threshold test: |log2 fold change| > LFC_THRESHOLD (the workflow's diffexp.lfc_threshold)
  res_t <- results(dds, contrast = c("site", "b", "a"), alpha = 0.1, lfcThreshold = LFC_THRESHOLD,
                   altHypothesis = "greaterAbs")
  m <- mcols(dds)
  genes <- data.frame(gene_id = rownames(dds), baseMean = m$baseMean, dispGeneEst = m$dispGeneEst,
                      dispFit = m$dispFit, dispMAP = m$dispMAP, dispersion = m$dispersion,
                      dispOutlier = m$dispOutlier, maxCooks = m$maxCooks,
                      log2FoldChange = res05$log2FoldChange, lfcSE = res05$lfcSE, stat = res05$stat,
                      pvalue = res05$pvalue, padj_05 = res05$padj, padj_10 = res10$padj,
                      stat_lfc_threshold = res_t$stat, pvalue_lfc_threshold = res_t$pvalue,
                      padj_lfc_threshold = res_t$padj)
  write_tsv(genes, file.path(dir, "genes.tsv.gz"))
  write_vst(dir, counts, coldata, local = local, all_genes = all_genes)
  message(sprintf("%-16s df %s  fitType %-10s  dispPriorVar %.6g  calls@0.05 %d  @0.1 %d", name,
                  summary$value[6], summary$value[1], attr(fn, "dispPriorVar"),
                  sum(res05$padj < 0.05, na.rm = TRUE), sum(res10$padj < 0.1, na.rm = TRUE)))
}

# 1. one factor, 2 vs 2 (2 residual df: simulated prior variance)
sheet <- data.frame(sample = sprintf("s%d", 1:4), site = c("a", "a", "b", "b"))
run("two_vs_two", sheet, simulate(1, sheet, disp_sd = 1), ~ site, local = TRUE, all_genes = TRUE)

# 2. one factor, 3 vs 3 (4 residual df: the trigamma rule)
sheet <- data.frame(sample = sprintf("s%d", 1:6), site = rep(c("a", "b"), each = 3))
run("three_vs_three", sheet, simulate(2, sheet), ~ site)

# 3. paired: 4 patients x 2 sites, ~ patient + site (3 residual df)
sheet <- data.frame(sample = sprintf("s%d", 1:8), patient = sprintf("p%d", rep(1:4, 2)),
                    site = rep(c("a", "b"), each = 4))
set.seed(30); patient_effect <- matrix(rnorm(4 * N_GENES, 0, 0.4), 4, N_GENES)
run("paired", sheet, simulate(3, sheet, extra = patient_effect[rep(1:4, 2), ]), ~ patient + site,
    local = TRUE)

# 4. batch + site: 2 batches x 2 sites x 2 replicates, ~ batch + site (5 residual df)
sheet <- data.frame(sample = sprintf("s%d", 1:8), batch = rep(c("x", "y"), 4),
                    site = rep(c("a", "b"), each = 4))
set.seed(40); batch_effect <- matrix(rnorm(2 * N_GENES, 0, 0.5), 2, N_GENES)
run("batch_site", sheet, simulate(4, sheet, extra = batch_effect[rep(1:2, 4), ]), ~ batch + site)

# 5. a continuous covariate (a host fraction) + site, ~ host + site (5 residual df)
sheet <- data.frame(sample = sprintf("s%d", 1:8), site = rep(c("a", "b"), each = 4),
                    host = c(0.05, 0.3, 0.12, 0.45, 0.2, 0.08, 0.5, 0.35))
set.seed(50); slope <- ifelse(runif(N_GENES) < 0.2, rnorm(N_GENES, 0, 3), 0)
run("covariate", sheet, simulate(5, sheet, extra = outer(sheet$host, slope)), ~ host + site)

# 6. a trend the parametric curve cannot fit (dispersion rising with the mean): DESeq2 falls back to locfit
sheet <- data.frame(sample = sprintf("s%d", 1:6), site = rep(c("a", "b"), each = 3))
run("trend_failure", sheet, simulate(6, sheet, disp_of_mean = function(mu) 0.01 * (mu / 100)^0.7), ~ site,
    local = TRUE)

# 7. 7 vs 7 with outlier counts: DESeq2 replaces Cook's outliers (>= 7 replicates) and refits those genes
sheet <- data.frame(sample = sprintf("s%02d", 1:14), site = rep(c("a", "b"), each = 7))
run("replace_outliers", sheet, simulate(7, sheet), ~ site)

# 9. purified counts: 10 patients x 2 sites, ~ patient + site (9 residual df), means in the thousands, and the zeros
#    subtracting a host's expected reads leaves: 1-3 samples at 0 among large counts in 80 genes (the likelihood
#    keeps a finite maximum, but IRLS diverges from its start), both samples of one patient at 0 in 20 more (that
#    patient's coefficient runs off). Fitted twice, with site level a and with b as the design's base level (the
#    same model, parametrised two ways: its statistics should not move).
sheet <- data.frame(sample = sprintf("s%02d", 1:20), patient = sprintf("p%02d", rep(1:10, 2)),
                    site = rep(c("a", "b"), each = 10))
set.seed(90); patient_effect <- matrix(rnorm(10 * N_GENES, 0, 0.5), 10, N_GENES)
counts <- simulate(9, sheet, extra = patient_effect[rep(1:10, 2), ] + log(8),
                   disp_of_mean = function(mu) 0.1 + 1 / mu, disp_sd = 0.5)
set.seed(91)
large <- which(rowMeans(counts) > 1000 & seq_len(N_GENES) <= N_GENES - N_ZERO)
zeroed <- sample(large, 100)
for (g in zeroed[1:80]) counts[g, sample(20, sample(1:3, 1))] <- 0L
for (g in zeroed[81:100]) counts[g, sheet$patient == sprintf("p%02d", sample(10, 1))] <- 0L
run("purified_zeros", sheet, counts, ~ patient + site)
run("purified_zeros_b_first", sheet, counts, ~ patient + site, site_levels = c("b", "a"))

# 8. the transform only: dispersion rising with the mean and one site (no group effect), where vst()'s own
#    parametric fit on its 1,000 genes fails and DESeq2 substitutes its local fit (counts, sheet, vst tables only)
sheet <- data.frame(sample = sprintf("s%d", 1:6), site = "a")
counts <- simulate(8, sheet, disp_of_mean = function(mu) 0.01 * (mu / 100)^0.7)
dir <- file.path(root, "vst_local_fallback")
dir.create(dir, showWarnings = FALSE)
write_tsv(data.frame(gene_id = rownames(counts), counts, check.names = FALSE), file.path(dir, "counts.tsv.gz"))
write_tsv(sheet, file.path(dir, "samples.tsv"))
coldata <- data.frame(site = factor(sheet$site), row.names = sheet$sample)
write_vst(dir, counts, coldata)

writeLines(capture.output(sessionInfo()), file.path(root, "sessionInfo.txt"))
