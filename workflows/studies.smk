# Dataset-level studies that need no network, stored as tidy rows beside the runs so
# `aggregate` collects them: class priors after downsampling (Alcover-Couso eq. 5) and the
# ground-truth sampling points of Marin's Fig 3.


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


rule sampling_points:
    # Marin Fig 3: where the ground-truth sampling tensor puts its points for several lambda.
    input:
        data=lambda wc: dataset_marker(wc.dataset),
    output:
        f"{RUNS}/{{dataset}}-sampling_points/metrics.csv",
    log:
        f"{LOGS}/sampling_points/{{dataset}}.log",
    conda:
        "../environment.yml"
    threads: 1
    params:
        root=lambda wc: dataset_root(wc.dataset),
    shell:
        "OMP_NUM_THREADS={threads} dsbench sampling-points --dataset {wildcards.dataset} "
        "--root {params.root} --out {output} > {log} 2>&1"
