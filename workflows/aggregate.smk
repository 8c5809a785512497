# every run's rows -> results/metrics.csv (tidy, sorted, stable columns)


rule aggregate:
    input:
        run_outputs(),
    output:
        METRICS_CSV,
    log:
        f"{LOGS}/aggregate.log",
    threads: 1
    shell:
        "dsbench aggregate --runs {RUNS} --out {output} > {log} 2>&1"
