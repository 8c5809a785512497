# every run's rows -> results/metrics.csv (tidy, sorted, stable columns)


# Local on a cluster: reading the runs' CSVs takes seconds, not worth a queued job.
localrules:
    aggregate,


rule aggregate:
    input:
        run_outputs(),
    output:
        METRICS_CSV,
    log:
        f"{LOGS}/aggregate.log",
    conda:
        "../environment.yml"
    threads: 1
    shell:
        "dsbench aggregate --out {output:q} {input:q} > {log:q} 2>&1"
