# make_prior_var_simulation.R -- the simulated histograms of DESeq2's low-df dispersion prior variance.
#
# WHAT: DESeq2 (estimateDispersionsPriorVar) estimates the prior variance of log dispersions by simulation when
#       the residual degrees of freedom df = m - p are 1, 2 or 3: with set.seed(2), for each of 200 variances
#       x on seq(0, 8, length = 200) in turn, it draws log(rchisq(1e4, df)) + rnorm(1e4, 0, sqrt(x)) - log(df),
#       keeps the draws inside (-10, 10) and bins them on the breaks -20:20/2 with hist(). These draws depend
#       only on df (never on the data), so this script writes them once: for each df and grid variance, the
#       number of draws kept and the 40 bin counts. The workflow (engines/nbinom.py, dispersion_prior_variance)
#       compares them with the cohort's residual histogram exactly as DESeq2 does. R is not a runtime
#       dependency: the table is committed.
#
# HOW TO RUN (from the repository root; Debian 12 "bookworm"):
#     apt-get install -y --no-install-recommends r-bioc-deseq2
#     Rscript resources/deseq2/make_prior_var_simulation.R
#
# The code below repeats DESeq2 1.38.3's loop line by line (print(DESeq2:::estimateDispersionsPriorVar)),
# including the one set.seed(2) before the 200 draws of each df.

out <- file.path("resources", "deseq2", "prior_var_simulation.tsv")
if (!dir.exists(dirname(out))) stop("Run from the repository root: Rscript resources/deseq2/make_prior_var_simulation.R")
brks <- -20:20/2
obsVarGrid <- seq(from = 0, to = 8, length = 200)
rows <- list()
for (df in 1:3) {
  set.seed(2)
  for (i in seq_along(obsVarGrid)) {
    x <- obsVarGrid[i]
    randDist <- log(rchisq(1e4, df = df)) + rnorm(1e4, 0, sqrt(x)) - log(df)
    randDist <- randDist[randDist > min(brks) & randDist < max(brks)]
    h <- hist(randDist, breaks = brks, plot = FALSE)
    rows[[length(rows) + 1]] <- c(df, i - 1, length(randDist), h$counts)
  }
}
table <- as.data.frame(do.call(rbind, rows))
names(table) <- c("df", "grid_index", "kept", sprintf("bin%02d", 0:39))
con <- gzfile(paste0(out, ".gz"), "w")
write.table(table, con, sep = "\t", quote = FALSE, row.names = FALSE)
close(con)
message("wrote ", out, ".gz (", nrow(table), " rows); ", R.version.string, "; DESeq2 ",
        as.character(packageVersion("DESeq2")))
