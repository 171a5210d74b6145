# Reference for tests/engines/test_rotation.py and test_camera.py: limma fry and camera on small simulated designs.
# Run from this directory: Rscript make_reference.R (R 4.2, limma 3.54.1 and statmod from Debian bookworm).
# Writes y.tsv (genes x samples), designs.tsv (samples x design columns of every case), sets.tsv, fry.tsv and
# camera.tsv.
suppressPackageStartupMessages(library(limma))
set.seed(20261130)
G <- 300; n <- 12
sd <- 0.3 * sqrt(4 / rchisq(G, df = 4))
y <- matrix(rnorm(G * n, sd = sd), G, n)
programme <- rnorm(n)                                  # a patient-level programme shared by genes 1-40
y[1:40, ] <- y[1:40, ] + outer(runif(40, 0.3, 1), programme)
group <- factor(rep(c("a", "b", "c"), each = 4))
patient <- factor(rep(1:4, times = 3))
y[41:60, group == "b"] <- y[41:60, group == "b"] + 0.8   # up in b
y[61:70, group == "c"] <- y[61:70, group == "c"] - 0.5   # down in c
rownames(y) <- paste0("g", 1:G)
colnames(y) <- paste0("s", 1:n)
sets <- list(programme = 1:40, up_b = 41:60, down_c = 61:70, mixed = c(1:10, 41:50), one = 45,
             null = 100:140, small = 200:202)
two <- group != "c"
cases <- list(
  two_group = list(samples = which(two), design = model.matrix(~ group[two, drop = TRUE]), contrast = 2),
  paired = list(samples = 1:n, design = model.matrix(~ patient + group), contrast = 6),
  contrast_vector = list(samples = 1:n, design = model.matrix(~ patient + group),
                         contrast = c(0, 0, 0, 0, -1, 1))
)
rows <- list(); designs <- list()
for (name in names(cases)) {
  case <- cases[[name]]
  design <- case$design
  colnames(design) <- paste0(name, ":", seq_len(ncol(design)))
  full <- matrix(NA, n, ncol(design), dimnames = list(colnames(y), colnames(design)))
  full[case$samples, ] <- design
  designs[[name]] <- full
  res <- fry(y[, case$samples], index = sets, design = design, contrast = case$contrast, sort = "none")
  rows[[name]] <- data.frame(case = name, set = rownames(res), n_genes = res$NGenes,
                             direction = tolower(res$Direction), p_value = res$PValue,
                             contrast = paste(case$contrast, collapse = ","))
}
write.table(data.frame(gene = rownames(y), signif(y, 10)), "y.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(sample = colnames(y), do.call(cbind, designs), check.names = FALSE), "designs.tsv",
            sep = "\t", quote = FALSE, row.names = FALSE, na = "")
out <- do.call(rbind, rows)
out$p_value <- signif(out$p_value, 10)
write.table(out, "fry.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(set = rep(names(sets), lengths(sets)), gene = rownames(y)[unlist(sets)]), "sets.tsv",
            sep = "\t", quote = FALSE, row.names = FALSE)
# camera (inter-gene correlation estimated, and limma's fixed default 0.01) on the same cases
rows <- list()
for (name in names(cases)) {
  case <- cases[[name]]
  for (cor in list(NA, 0.01)) {
    res <- camera(y[, case$samples], index = sets[names(sets) != "one"], design = case$design,
                  contrast = case$contrast, inter.gene.cor = cor, sort = FALSE)
    rows[[paste(name, cor)]] <- data.frame(case = name, inter_gene_cor = cor, set = rownames(res),
                                           n_genes = res$NGenes, direction = tolower(res$Direction),
                                           p_value = signif(res$PValue, 10),
                                           contrast = paste(case$contrast, collapse = ","))
  }
}
write.table(do.call(rbind, rows), "camera.tsv", sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
