# deseq2_benchmark.R -- R DESeq2 on a benchmark cohort, for benchmarks/run_benchmark.py (never part of a run).
#
# Usage (Debian 12: apt-get install -y --no-install-recommends r-bioc-deseq2):
#
#     Rscript benchmarks/deseq2_benchmark.R COUNTS SAMPLES DESIGN MIN_COUNT MIN_SAMPLES ALPHA WORKERS OUT_DIR
#
# Reads the same genes x samples counts (TSV, optionally gzipped) and sample sheet as the workflow, applies the
# workflow's pre-filter (>= MIN_COUNT reads in >= MIN_SAMPLES samples), runs DESeq() with DESIGN and results()
# for the three pNEN contrasts (site levels) at ALPHA, and writes OUT_DIR/deseq2_<contrast>.tsv,
# OUT_DIR/dispersions.tsv (gene-wise, fitted, final) and OUT_DIR/timing.tsv (seconds of each step and the
# process's peak resident memory, VmHWM). WORKERS > 1 runs DESeq() and results() with
# BiocParallel::MulticoreParam(WORKERS) (forked workers: their memory is not in VmHWM). No shrinkage: Debian
# has no apeglm, and the comparison is of the Wald-test results.

started <- proc.time()[["elapsed"]]
suppressPackageStartupMessages({
  library(DESeq2)
  library(BiocParallel)
})
loaded <- proc.time()[["elapsed"]]

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 8) stop("usage: deseq2_benchmark.R COUNTS SAMPLES DESIGN MIN_COUNT MIN_SAMPLES ALPHA WORKERS OUT")
counts_path <- args[1]; samples_path <- args[2]; design <- as.formula(args[3])
min_count <- as.numeric(args[4]); min_samples <- as.integer(args[5]); alpha <- as.numeric(args[6])
workers <- as.integer(args[7]); out_dir <- args[8]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

counts <- as.matrix(read.delim(counts_path, row.names = 1, check.names = FALSE))
samples <- read.delim(samples_path, colClasses = "character")
rownames(samples) <- samples$sample
counts <- counts[, samples$sample]
for (column in setdiff(colnames(samples), "sample")) samples[[column]] <- factor(samples[[column]])
samples$site <- relevel(samples$site, "normal_pancreas")
keep <- rowSums(counts >= min_count) >= min_samples
read_done <- proc.time()[["elapsed"]]

parallel <- workers > 1
if (parallel) register(MulticoreParam(workers)) else register(SerialParam())
dds <- DESeqDataSetFromMatrix(counts[keep, ], samples, design)
dds <- DESeq(dds, parallel = parallel, quiet = TRUE)
fitted <- proc.time()[["elapsed"]]
write.table(data.frame(gene_id = rownames(dds), dispGeneEst = sprintf("%.10g", mcols(dds)$dispGeneEst),
                       dispFit = sprintf("%.10g", mcols(dds)$dispFit),
                       dispersion = sprintf("%.10g", mcols(dds)$dispersion)),
            file.path(out_dir, "dispersions.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)

contrasts <- list(primary_vs_normal = c("site", "primary", "normal_pancreas"),
                  liver_met_vs_normal = c("site", "liver_metastasis", "normal_pancreas"),
                  liver_met_vs_primary = c("site", "liver_metastasis", "primary"))
fmt <- function(x) { out <- sprintf("%.10g", x); out[is.na(x)] <- "NA"; out }
for (name in names(contrasts)) {
  res <- results(dds, contrast = contrasts[[name]], alpha = alpha, parallel = parallel)
  table <- data.frame(gene_id = rownames(res), baseMean = fmt(res$baseMean),
                      log2FoldChange = fmt(res$log2FoldChange), lfcSE = fmt(res$lfcSE), stat = fmt(res$stat),
                      pvalue = fmt(res$pvalue), padj = fmt(res$padj))
  write.table(table, file.path(out_dir, paste0("deseq2_", name, ".tsv")), sep = "\t", quote = FALSE,
              row.names = FALSE)
}
tested <- proc.time()[["elapsed"]]

status <- readLines("/proc/self/status")
peak_kb <- as.numeric(gsub("[^0-9]", "", grep("^VmHWM", status, value = TRUE)))
timing <- data.frame(
  step = c("load_packages", "read_counts", "deseq", "results", "total", "peak_rss_mb", "genes_tested",
           "deseq2_version", "workers"),
  value = c(loaded - started, read_done - loaded, fitted - read_done, tested - fitted, tested - started,
            peak_kb / 1024, sum(keep), as.character(packageVersion("DESeq2")), workers))
write.table(timing, file.path(out_dir, "timing.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
