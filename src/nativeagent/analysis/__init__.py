"""Analysis of run directories: training-curve plots and a self-contained HTML report."""
