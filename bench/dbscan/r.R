# r.R: the R package dbscan's dbscan() (k-d tree, Debian's r-cran-dbscan) on
# a CSV (every column but TARGET, if given); prints the fit time and writes
# row,cluster,core (cluster 0-based, -1 noise; core -1: dbscan() does not
# return core flags, and is.corepoint() would run a second, memory-hungry
# neighbour search that the timing and the peak memory should not include).
# usage: Rscript r.R DATA.csv EPS MIN_SAMPLES LABELS_OUT [TARGET]
suppressMessages(library(dbscan))
suppressMessages(library(data.table))
a <- commandArgs(trailingOnly = TRUE)
x <- fread(a[1])
if (length(a) > 4) x[, (a[5]) := NULL]
x <- as.matrix(x)
t0 <- proc.time()[["elapsed"]]
m <- dbscan(x, eps = as.numeric(a[2]), minPts = as.integer(a[3]), borderPoints = TRUE)
t <- proc.time()[["elapsed"]] - t0
fwrite(data.table(row = seq_len(nrow(x)) - 1L, cluster = m$cluster - 1L, core = -1L), a[4])
cat(sprintf("fit_seconds %.3f clusters %d noise %d\n", t, max(m$cluster), sum(m$cluster == 0)))
