# results/metrics.csv -> the registered figures and tables (stored metrics only: no torch here).
# A default run builds the default figures; an experiment run (--config experiment=NAME) builds
# them plus the figures that belong to that experiment (paper_figures.figure_ids), into the
# experiment's figures_dir. Each report item has its own caption: report/captions/<id>.rst.
import paper_figures

FIGURE_IDS = paper_figures.figure_ids(EXPERIMENT)
FIGURE_OUTPUTS = [path for key in FIGURE_IDS for path in figure_files(key)]
ALL_TARGETS += FIGURE_OUTPUTS

# figures_only=true is an explicit request to rebuild the figures, even where they are newer than
# results/metrics.csv (Snakemake would read "Nothing to be done"): the rule also takes a stamp
# written now, at every such invocation. A Snakefile cannot force a rule itself (--forcerun is
# the command line's), and a stamp works with or without Snakemake's metadata of the last build.
FIGURES_REQUEST = f"{LOGS}/figures.requested" if FIGURES_ONLY else []
if FIGURES_ONLY:
    from benchmark.io import atomic_write_text
    from datetime import datetime, timezone

    atomic_write_text(FIGURES_REQUEST, f"{datetime.now(timezone.utc).isoformat()}\n")


# Local on a cluster (torch-free, ~25 s of plotting): no queued job for it.
localrules:
    figures,


rule figures:
    input:
        metrics=METRICS_CSV,
        request=FIGURES_REQUEST,
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
    # Figures render in parallel processes (paper_figures.build, one per usable CPU): the last job.
    # A number, not workflow.cores: executors such as SLURM run without --cores.
    threads: 2
    params:
        out=lambda wc, output: os.path.dirname(output[0]),
        ids=FIGURE_IDS,
    shell:
        "dsbench figures --metrics {input.metrics:q} --out {params.out:q} --only {params.ids:q} > {log:q} 2>&1"
