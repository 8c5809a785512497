# results/metrics.csv -> every registered figure and table (stored metrics only: no torch here)
import os

import paper_figures
from benchmark.registry import FIGURES

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
    conda:
        "../environment.yml"
    threads: 1
    params:
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "dsbench figures --metrics {input} --out {params.out} > {log} 2>&1"
