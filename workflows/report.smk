# results/metrics.csv + the runs' per-image counts -> the reproduction report: every claim of
# results/claims.yaml with its measured difference, 95% paired-bootstrap interval and verdict
# (dsbench report; stored metrics and counts only, no torch). Beside the metrics file:
# results/report/ for the default run, results/ci/report/ for the ci experiment.
REPORT_DIR = os.path.join(os.path.dirname(METRICS_CSV) or ".", "report")
REPORT_OUTPUTS = [
    f"{REPORT_DIR}/verdicts.csv",
    f"{REPORT_DIR}/REPORT.md",
    f"{REPORT_DIR}/index.html",
]
ALL_TARGETS += REPORT_OUTPUTS


# Local on a cluster (torch-free, ~20 s): no queued job for it.
localrules:
    report,


rule report:
    input:
        metrics=METRICS_CSV,
        # Committed with the repository: relative to it, wherever the DAG runs (snakemake -d DIR).
        claims=os.path.join(workflow.basedir, "results", "claims.yaml"),
        # Each run's metrics file is written after its counts (counts.npz, counts_intrinsic.npz,
        # the superpixel track's pairs.csv), as the sign that they are complete; a run whose
        # setting was declined has metrics but no counts, so the counts themselves are not inputs.
        evaluated=run_outputs(),
        # The figures the report links to.
        figures=FIGURE_OUTPUTS,
    output:
        verdicts=REPORT_OUTPUTS[0],
        markdown=REPORT_OUTPUTS[1],
        html=report(
            REPORT_OUTPUTS[2],
            category="Reproduction report",
            caption="report/reproduction_report.rst",
        ),
    log:
        f"{LOGS}/report.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        # Functions, not strings: the lint's "hardcoded prefix" (the runs and figures are inputs).
        runs=lambda wc: RUNS,
        figures=lambda wc: FIGURE_DIR,
        reported=os.path.join(workflow.basedir, "results", "reported"),
        out=lambda wc, output: os.path.dirname(output.verdicts),
    shell:
        "dsbench report --metrics {input.metrics:q} --runs {params.runs:q} --claims {input.claims:q} "
        "--reported {params.reported:q} --figures {params.figures:q} --out {params.out:q} > {log:q} 2>&1"
