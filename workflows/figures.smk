# results/metrics.csv -> the registered figures and tables (stored metrics only: no torch here).
# A default run builds the default figures; an experiment run (--config experiment=NAME) builds
# them plus the figures that belong to that experiment (paper_figures.figure_ids), into the
# experiment's figures_dir. Each report item has its own caption: report/captions/<id>.rst.
import paper_figures

FIGURE_IDS = paper_figures.figure_ids(EXPERIMENT)
FIGURE_OUTPUTS = [path for key in FIGURE_IDS for path in figure_files(key)]
ALL_TARGETS += FIGURE_OUTPUTS


rule figures:
    input:
        METRICS_CSV,
    output:
        [
            report(
                path,
                category="Figures",
                caption=f"report/captions/{figure_id(path)}.rst",
            )
            for path in FIGURE_OUTPUTS
        ],
    log:
        f"{LOGS}/figures.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        out=lambda wc, output: os.path.dirname(output[0]),
        ids=FIGURE_IDS,
    shell:
        "dsbench figures --metrics {input:q} --out {params.out:q} --only {params.ids:q} > {log:q} 2>&1"
