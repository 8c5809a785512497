# dataset -> class priors and prior discrepancy after downsampling (Alcover-Couso eq. 5),
# stored as tidy rows beside the runs so `aggregate` collects them; no network involved.


rule priors:
    input:
        data=lambda wc: dataset_marker(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-priors/priors.csv",
    log:
        f"{LOGS}/priors/{{dataset}}.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        root=lambda wc: dataset_root(wc.dataset),
    shell:
        "OMP_NUM_THREADS={threads} dsbench priors --dataset {wildcards.dataset} --root {params.root} "
        "--out {output} > {log} 2>&1"
