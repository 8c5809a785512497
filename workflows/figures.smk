# results/metrics.csv -> every registered figure and table (stored metrics only: no torch here)
import paper_figures
from benchmark.registry import FIGURES

def figure_files(key):
    """Tables (ids table_*) are Markdown + LaTeX; figures are PNG + PDF."""
    suffixes = (".md", ".tex") if key.startswith("table_") else (".png", ".pdf")
    return [f"{FIGURE_DIR}/{key}{s}" for s in suffixes]


FIGURE_OUTPUTS = [path for key in FIGURES.keys() for path in figure_files(key)]
ALL_TARGETS += FIGURE_OUTPUTS


rule figures:
    input:
        METRICS_CSV,
    output:
        [
            report(path, category="Figures", caption="report/figure.rst")
            for path in FIGURE_OUTPUTS
        ],
    log:
        f"{LOGS}/figures.log",
    threads: 1
    shell:
        "dsbench figures --metrics {input} --out {FIGURE_DIR} > {log} 2>&1"
